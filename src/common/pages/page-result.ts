import type { CookieOptions, Request, Response } from 'express';
import { Reader } from './reader';

/**
 * What a server-rendered page handler answers: a template with its view-model, or a redirect, plus cookies.
 * Services build these; `sendPage` writes them, so page controllers stay one call.
 */
export type PageResult =
  | { readonly kind: 'render'; readonly view: string; readonly model: object; readonly status?: number; readonly cookies?: CookieChange[]; readonly headers?: Record<string, string> }
  | { readonly kind: 'redirect'; readonly location: string; readonly cookies?: CookieChange[] };

export interface CookieChange {
  readonly name: string;
  /** undefined clears the cookie. */
  readonly value?: string;
  readonly options: CookieOptions;
}

export const render = (view: string, model: object, status = 200, cookies: CookieChange[] = []): PageResult => ({ kind: 'render', view, model, status, cookies });

/** 303 See Other: after a form POST the browser must follow with GET (SPEC §7). */
export const redirect = (location: string, cookies: CookieChange[] = []): PageResult => ({ kind: 'redirect', location, cookies });

export function sendPage(res: Response, result: PageResult): void {
  for (const cookie of result.cookies ?? []) {
    if (cookie.value === undefined) res.clearCookie(cookie.name, cookie.options);
    else res.cookie(cookie.name, cookie.value, cookie.options);
  }
  // Pages carry personal data and one-time form tokens: never cache them.
  res.setHeader('Cache-Control', 'no-store');
  if (result.kind === 'redirect') {
    res.redirect(303, result.location);
    return;
  }
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, value);
  res.status(result.status ?? 200).render(result.view, result.model);
}

/** What a page service reads of the browser's request: its cookies, its languages and its address. */
export interface PageRequest {
  readonly cookies: Record<string, unknown>;
  readonly acceptLanguage?: string;
  readonly ip: string;
}

export function pageRequest(req: Request): PageRequest {
  return { cookies: (req.cookies as Record<string, unknown> | undefined) ?? {}, acceptLanguage: req.headers['accept-language'], ip: req.ip ?? '' };
}

export const readerOf = (page: PageRequest): Reader => Reader.of(page.acceptLanguage, page.cookies);

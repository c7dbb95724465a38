import { PageResult, render } from './page-result';

/**
 * An error page says what happened in plain words, what to do next, and offers a way onward; the request id
 * (from res.locals) and the technical details for the app's developer come last (views/error.hbs).
 */
export interface ErrorPage {
  /** Names the page in `<title>`. */
  readonly title: string;
  /** What happened. */
  readonly heading: string;
  readonly message: string;
  /** What to do next. */
  readonly next: string;
  readonly link?: { readonly href: string; readonly label: string };
  /** For developers: the protocol error, as the client would have received it. */
  readonly technical?: { readonly code: string; readonly description?: string };
}

/** Onward when there is no app to go back to. */
export const HOME_LINK = { href: '/', label: 'Go to your account' } as const;

export function errorPage(status: number, page: ErrorPage): PageResult {
  return render('error', errorModel(page), status);
}

export function errorModel(page: ErrorPage): ErrorPage & { link: { href: string; label: string } } {
  return { ...page, link: page.link ?? HOME_LINK };
}

/** The error page for a status the page routes did not answer themselves (an unknown page, a failure, a refused body). */
export function statusErrorPage(status: number, message: string): ErrorPage {
  if (status === 404) {
    return {
      title: 'Page not found',
      heading: 'There is no page here',
      message: 'The address may be mistyped, or the page has moved.',
      next: 'Check the address, or go to your account.',
    };
  }
  if (status === 429) {
    return { title: 'Too many requests', heading: 'Too many requests', message, next: 'Wait a minute, then try again.' };
  }
  if (status === 503) {
    return {
      title: 'Temporarily unavailable',
      heading: 'Portcullis is briefly unavailable',
      message: 'The server cannot reach its database right now. Nothing you sent was half-done: it either happened completely or not at all.',
      next: 'Wait a few seconds and try again.',
    };
  }
  if (status >= 500) {
    return {
      title: 'Something went wrong',
      heading: 'Something went wrong on our side',
      message: 'The server could not finish this request. Nothing was changed.',
      next: 'Try again in a moment. If it keeps happening, give your administrator the request id below.',
    };
  }
  return {
    title: 'Request not valid',
    heading: 'This request could not be handled',
    message: `The server refused it: ${message.replace(/\.$/, '')}.`,
    next: 'Go back and try again.',
  };
}

/** A form whose CSRF token no longer matches the session (it was open while the user signed in again, or forged). */
export function expiredFormPage(link: { href: string; label: string }): PageResult {
  return errorPage(403, {
    title: 'Form expired',
    heading: 'This form has expired',
    message: 'Nothing was changed: the form was older than your current sign-in, or it did not come from this site.',
    next: 'Open the page again and repeat what you were doing.',
    link,
    technical: { code: 'invalid_csrf_token' },
  });
}

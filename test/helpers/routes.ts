import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, ModulesContainer, Reflector } from '@nestjs/core';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { ACCESS_KEY, AccessRule, PUBLIC_KEY } from '../../src/identity/auth/auth.decorators';
import type { TestApp } from './app';

/** The running app's routes, read from Express itself, so a route added by any means is found. */

export interface Route {
  readonly method: string;
  readonly path: string;
}

export const key = (r: Route) => `${r.method} ${r.path}`;

interface ExpressLayer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
}

/**
 * Express routes that are not Nest controller routes, so the global guard never sees them: the Swagger UI and its
 * document (public by SPEC §2), and Nest's `forRoutes('*')` middleware, which Express 5 mounts as `/{*path}` on
 * every method. Anything else outside a controller is walked like a protected route.
 */
const isSwaggerRoute = (r: Route) => r.method === 'GET' && /^\/docs(-yaml|\/.*)?$/.test(r.path);
const isNestMiddleware = (r: Route, methodCount: number) => r.path === '/{*path}' && methodCount > 20;

/** Express 5 exposes its router as `app.router`; Express 4 kept it in `app._router`. */
function expressLayers(t: TestApp): ExpressLayer[] {
  const express = t.app.getHttpAdapter().getInstance() as { router?: { stack: ExpressLayer[] }; _router?: { stack: ExpressLayer[] } };
  const router = express.router ?? express._router;
  if (!router) throw new Error('cannot find the Express router');
  return router.stack;
}

/** Every (method, path) Express will dispatch to a route handler, classified. */
export function expressRoutes(t: TestApp): { routes: Route[]; swagger: Route[]; middleware: Route[] } {
  const routes: Route[] = [];
  const swagger: Route[] = [];
  const middleware: Route[] = [];
  for (const layer of expressLayers(t)) {
    if (!layer.route) continue;
    const methods = Object.keys(layer.route.methods).filter((m) => layer.route!.methods[m]);
    for (const path of ([] as string[]).concat(layer.route.path)) {
      for (const m of methods) {
        const route = { method: m.toUpperCase(), path };
        if (isNestMiddleware(route, methods.length)) middleware.push(route);
        else if (isSwaggerRoute(route)) swagger.push(route);
        else routes.push(route);
      }
    }
  }
  return { routes, swagger, middleware };
}

const joinPath = (...parts: string[]) => '/' + parts.join('/').split('/').filter(Boolean).join('/');

export interface NestRoute extends Route {
  readonly isPublic: boolean;
  /** What the route demands beyond a caller (@Authenticated, @AdminOnly). */
  readonly rule: AccessRule;
}

/**
 * Every controller route Nest knows, with whether @Public applies and its access rule (read the way
 * AuthenticationGuard reads them).
 */
export function nestRoutes(t: TestApp): NestRoute[] {
  const discovery = new DiscoveryService(t.app.get(ModulesContainer));
  const scanner = new MetadataScanner();
  const reflector = new Reflector();
  const found: NestRoute[] = [];
  for (const wrapper of discovery.getControllers()) {
    const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
    if (!controller) continue;
    const prefixes = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, controller) ?? '/');
    for (const name of scanner.getAllMethodNames(controller.prototype)) {
      const handler = (controller.prototype as Record<string, unknown>)[name] as () => unknown;
      const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (paths === undefined) continue;
      const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
      const isPublic = reflector.getAllAndOverride(PUBLIC_KEY, [handler, controller]) !== undefined;
      const rule = reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_KEY, [handler, controller]) ?? {};
      for (const prefix of prefixes) {
        for (const path of ([] as string[]).concat(paths)) found.push({ method, path: joinPath(prefix, path), isPublic, rule });
      }
    }
  }
  return found;
}

/** A concrete URL for a route pattern: every parameter becomes a random uuid, wildcards a plain segment. */
export function concrete(path: string): string {
  return path
    .replace(/\*\w+/g, 'anything')
    .replace(/:\w+/g, () => randomUUID())
    .replace(/[{}]/g, '');
}

/** Calls a route with nothing but an empty JSON body where it takes one. */
export function send(t: TestApp, route: Route, path = concrete(route.path)): request.Test {
  const req = request(t.url)[route.method.toLowerCase() as 'get'](path);
  return ['POST', 'PUT', 'PATCH'].includes(route.method) ? req.send({}) : req;
}

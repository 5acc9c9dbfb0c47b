// Path matching for the API's handful of routes: a pattern is a list of segments, `:name` ones
// capture (URL-decoded). Unknown path → 404; known path with another method → 405 with `Allow`.
// A dozen fixed routes do not earn a router dependency.
import { invalidArgValue } from '../../util/validate';
import { httpError } from './http-error';

export type Params = Record<string, string>;

export interface Route<H> {
  readonly pattern: string;
  readonly handlers: Readonly<Record<string, H>>;
}

interface Compiled<H> {
  readonly segments: readonly string[];
  readonly handlers: Readonly<Record<string, H>>;
  readonly allow: string;
}

export interface Match<H> {
  readonly handler: H;
  readonly params: Params;
}

function split(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

export class Router<H> {
  private readonly routes: Compiled<H>[];

  constructor(routes: readonly Route<H>[]) {
    this.routes = routes.map((route) => {
      const methods = Object.keys(route.handlers);
      // A GET route answers HEAD too (Node's http sends the headers without the body).
      if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
      return { segments: split(route.pattern), handlers: route.handlers, allow: methods.join(', ') };
    });
  }

  /** The handler and captured parameters for a request, or a 404/405/400 error to answer with. */
  match(method: string, path: string): Match<H> {
    const parts = split(path);
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (params === undefined) continue;
      const handler = route.handlers[method] ?? (method === 'HEAD' ? route.handlers.GET : undefined);
      if (handler === undefined) {
        throw httpError(405, 'ERR_METHOD_NOT_ALLOWED', `${method} is not allowed on ${path} (allowed: ${route.allow})`, {
          Allow: route.allow,
        });
      }
      return { handler, params };
    }
    throw httpError(404, 'ERR_NOT_FOUND', `no route for ${path}`);
  }
}

function matchSegments(pattern: readonly string[], parts: readonly string[]): Params | undefined {
  if (pattern.length !== parts.length) return undefined;
  let params: Params | undefined;
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const part = parts[i]!;
    if (p.startsWith(':')) {
      if (part === '') return undefined;
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        throw invalidArgValue(p.slice(1), part, 'is not valid percent-encoding');
      }
      (params ??= {})[p.slice(1)] = value;
    } else if (p !== part) {
      return undefined;
    }
  }
  return params ?? {};
}

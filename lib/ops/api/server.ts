// The REST API and dashboard over Node's `http`: routes from routes.ts, cached query answers from
// cache.ts, bodies read under a limit by body.ts. A cache hit is answered before routing: only
// valid GET answers are ever stored, so a stored key is a valid request.
import { Buffer } from 'node:buffer';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'http';
import type { AddressInfo, Socket } from 'net';
import { toLogger, type Logger } from '../../util/logger';
import { invalidArgType, validateInteger, validateMs, validateObject } from '../../util/validate';
import type { TaskOps } from '../types';
import { declaredTooLarge, drain, readJsonObject, tooLarge } from './body';
import { ResponseCache } from './cache';
import { DASHBOARD_HTML } from './dashboard';
import { errorBody, httpError, httpStatusOf } from './http-error';
import { Router } from './router';
import { ROUTES, tagsOfChanges, type Handler } from './routes';

export interface ApiServerOptions {
  /** Interface to listen on; default 127.0.0.1. */
  host?: string;
  /** Port; default 0 (any free port). */
  port?: number;
  /** How long (ms) an identical GET is answered from the cache; default 1000, 0 turns it off. */
  cacheTtl?: number;
  /** An evloop Logger or a pino-like logger; default the shared stderr logger. */
  logger?: unknown;
  /** Largest request body in bytes; default 1 MiB. */
  bodyLimit?: number;
}

export interface ApiServer {
  /** `http://HOST:PORT`, with the port actually bound. */
  readonly url: string;
  readonly port: number;
  /** Stops listening, lets requests in progress finish, and closes every connection. */
  close(): PromiseLike<void>;
}

export const DEFAULT_BODY_LIMIT = 1024 * 1024;
export const DEFAULT_CACHE_TTL = 1000;

const JSON_TYPE = 'application/json; charset=utf-8';
const dashboard = Buffer.from(DASHBOARD_HTML);
const router = new Router<Handler>(ROUTES);

/** The request asked not to be served from a cache (RFC 9111 request directives, and HTTP/1.0's Pragma). */
function bypassesCache(req: IncomingMessage): boolean {
  const cc = req.headers['cache-control'];
  if (cc !== undefined && /(?:^|,)\s*(?:no-cache|no-store|max-age\s*=\s*0)\s*(?:,|$)/i.test(cc)) return true;
  const pragma = req.headers.pragma;
  return pragma !== undefined && /no-cache/i.test(pragma);
}

function send(res: ServerResponse, status: number, body: Buffer | string, headers: Record<string, string | number>, closing: boolean): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  headers['Content-Length'] = buf.length;
  if (closing) headers.Connection = 'close';
  res.writeHead(status, headers);
  res.end(buf);
}

/** How long close() lets requests in progress finish before their connections are cut. */
const CLOSE_GRACE_MS = 2000;

class Api implements ApiServer {
  readonly url: string;
  readonly port: number;
  private closePromise: Promise<void> | undefined;

  constructor(
    private readonly server: Server,
    private readonly onClose: () => void,
    host: string,
  ) {
    this.port = (server.address() as AddressInfo).port;
    this.url = `http://${host.includes(':') ? `[${host}]` : host}:${this.port}`;
  }

  close(): Promise<void> {
    return (this.closePromise ??= new Promise<void>((resolve, reject) => {
      this.onClose();
      // Idle keep-alive connections would hold close() open: end them now. Busy ones answer with
      // `Connection: close` (see send) and end with it; one that never finishes is cut after a grace.
      const grace = setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS);
      grace.unref();
      this.server.close((err) => {
        clearTimeout(grace);
        if (err) reject(err);
        else resolve();
      });
      this.server.closeIdleConnections();
    }));
  }
}

/** Starts the REST API and dashboard for `ops`; resolves once it is listening. */
export async function startApiServer(ops: TaskOps, options: ApiServerOptions = {}): Promise<ApiServer> {
  if (ops === null || typeof ops !== 'object') throw invalidArgType('ops', 'a TaskOps object', ops);
  validateObject(options, 'options');
  const host = options.host ?? '127.0.0.1';
  if (typeof host !== 'string') throw invalidArgType('options.host', 'of type string', host);
  const port = options.port === undefined ? 0 : validateInteger(options.port, 'options.port', 0, 65535);
  const ttl = options.cacheTtl === undefined ? DEFAULT_CACHE_TTL : validateMs(options.cacheTtl, 'options.cacheTtl');
  const bodyLimit = options.bodyLimit === undefined ? DEFAULT_BODY_LIMIT : validateInteger(options.bodyLimit, 'options.bodyLimit', 0);
  const log: Logger = toLogger(options.logger);

  const cache = new ResponseCache({ ttl });
  const unsubscribe = ops.onChange((change) => cache.onChange(change));
  let closing = false;

  const fail = (req: IncomingMessage, res: ServerResponse, err: unknown): void => {
    const status = httpStatusOf(err);
    if (status >= 500) log.error('api request failed', err, `${req.method} ${req.url}`);
    else log.debug(`api request refused, ${status}`, (err as { code?: unknown }).code, `${req.method} ${req.url}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const headers: Record<string, string | number> = { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-store' };
    const extra = (err as { headers?: Record<string, string> }).headers;
    if (extra) Object.assign(headers, extra);
    send(res, status, errorBody(err, status), headers, closing);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const target = req.url ?? '/';
    const isRead = method === 'GET' || method === 'HEAD';
    const bypass = isRead && bypassesCache(req);
    if (isRead && !bypass) {
      const hit = cache.get(target);
      if (hit !== undefined) {
        send(res, 200, hit.hitBody, { 'Content-Type': JSON_TYPE, 'Cache-Control': `max-age=${cache.maxAge(hit)}` }, closing);
        return;
      }
    }
    const q = target.indexOf('?');
    const path = q < 0 ? target : target.slice(0, q);
    const search = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
    const { handler, params } = router.match(method, path);
    switch (handler.kind) {
      case 'page':
        send(res, 200, dashboard, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' }, closing);
        return;
      case 'read': {
        const { tags, produce } = handler.read(ops, params, search);
        const fresh = await cache.compute(target, tags, produce, { shared: !bypass, store: !/no-store/i.test(req.headers['cache-control'] ?? '') });
        send(res, 200, fresh.body, { 'Content-Type': JSON_TYPE, 'Cache-Control': `max-age=${cache.maxAge(undefined)}` }, closing);
        return;
      }
      case 'write': {
        if (declaredTooLarge(req, bodyLimit)) {
          drain(req, bodyLimit);
          throw tooLarge(bodyLimit);
        }
        const body = await readJsonObject(req, bodyLimit);
        const result = await handler.write(ops, params, body);
        // The operations layer reports its changes too; dropping here as well means the answer
        // to the very next GET shows this one, whenever those reports arrive.
        cache.drop(tagsOfChanges(result.changes));
        const headers: Record<string, string | number> = { 'Content-Type': JSON_TYPE, 'Cache-Control': 'no-store' };
        if (result.location !== undefined) headers.Location = result.location;
        send(res, result.status, JSON.stringify(result.body), headers, closing);
        return;
      }
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => fail(req, res, err));
  });
  // A client that sends `Expect: 100-continue` with too large a body is refused before sending it.
  server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
    if (declaredTooLarge(req, bodyLimit)) {
      fail(req, res, tooLarge(bodyLimit));
      return;
    }
    res.writeContinue();
    server.emit('request', req, res);
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const body = errorBody(httpError(400, 'ERR_BAD_REQUEST', 'malformed HTTP request'), 400);
    socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: ${JSON_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    unsubscribe();
    throw err;
  }
  const api = new Api(server, () => {
    closing = true;
    unsubscribe();
  }, host);
  log.info('api listening', api.url);
  return api;
}

// Reading a JSON request body under a byte limit. The limit is enforced while reading: a
// declared Content-Length over it is refused before a byte of body is read, and a chunked body is
// refused the moment it crosses the limit; what the client sends after that is read and dropped
// (never kept) so that it can still read the 413, up to a bound past which the socket is closed.
import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'http';
import { invalidArgType } from '../../util/validate';
import { httpError } from './http-error';

/** After a refusal, at most this many times the limit is drained before the socket is closed. */
const DRAIN_FACTOR = 8;

export function tooLarge(limit: number): Error {
  return httpError(413, 'ERR_BODY_TOO_LARGE', `the request body is over the limit of ${limit} bytes`);
}

/** The declared body length is over the limit (checked before any body is read). */
export function declaredTooLarge(req: IncomingMessage, limit: number): boolean {
  const declared = req.headers['content-length'];
  return declared !== undefined && Number(declared) > limit;
}

/** Reads and drops the rest of a refused body, closing the connection if it goes on too long. */
export function drain(req: IncomingMessage, limit: number): void {
  let dropped = 0;
  req.removeAllListeners('data');
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limit * DRAIN_FACTOR) req.socket.destroy();
  });
  req.on('error', () => {});
  req.resume();
}

/** The raw body, at most `limit` bytes; rejects with a 413 error past it. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  if (declaredTooLarge(req, limit)) {
    drain(req, limit);
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        cleanup();
        drain(req, limit);
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      if (done) return;
      done = true;
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      if (done) return;
      done = true;
      cleanup();
      reject(err);
    };
    // A client that goes away mid-body ends the request without 'end' (and not always with 'error').
    const onClose = (): void => onError(Object.assign(new Error('the client closed the connection before the body was complete'), { code: 'ECONNRESET' }));
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

/**
 * The body parsed as a JSON object; an empty body is `{}`. Malformed JSON, or JSON that is not an
 * object, is a 400.
 */
export async function readJsonObject(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const raw = await readBody(req, limit);
  if (raw.length === 0) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw httpError(400, 'ERR_INVALID_JSON', `the request body is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType('body', 'a JSON object', value);
  }
  return value as Record<string, unknown>;
}

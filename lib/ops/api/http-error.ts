// The API's error answers: `{ error: { code, message } }` with the HTTP status that fits the
// error's stable `.code`. Errors from the operations layer are mapped by code; anything unknown is
// a 500 whose details go to the log, not to the client.
import { codedError } from '../../util/validate';

export interface HttpError extends Error {
  code: string;
  httpStatus: number;
  /** Extra response headers (e.g. `Allow` on a 405). */
  headers?: Record<string, string>;
}

export function httpError(httpStatus: number, code: string, message: string, headers?: Record<string, string>): HttpError {
  const err = codedError(Error, code, message) as HttpError;
  err.httpStatus = httpStatus;
  if (headers !== undefined) err.headers = headers;
  return err;
}

const STATUS_OF_CODE: Readonly<Record<string, number>> = Object.freeze({
  ERR_INVALID_ARG_TYPE: 400,
  ERR_INVALID_ARG_VALUE: 400,
  ERR_OUT_OF_RANGE: 400,
  ERR_INVALID_JSON: 400,
  ERR_UNKNOWN_TASK: 404,
  ERR_RUN_NOT_FOUND: 404,
  ERR_DEAD_LETTER_NOT_FOUND: 404,
  ERR_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_DUPLICATE_KEY: 409,
  ERR_RUN_FINISHED: 409,
  ERR_BODY_TOO_LARGE: 413,
  // The client left mid-request; the answer goes nowhere, but it is not a server fault to log.
  ECONNRESET: 400,
});

/** The HTTP status for an error, or 500 when its code is not one the API knows. */
export function httpStatusOf(err: unknown): number {
  if (err !== null && typeof err === 'object') {
    const e = err as { httpStatus?: unknown; code?: unknown };
    if (typeof e.httpStatus === 'number') return e.httpStatus;
    if (typeof e.code === 'string') return STATUS_OF_CODE[e.code] ?? 500;
  }
  return 500;
}

/** The JSON body for an error; a 500 says no more than that, so internals do not leak. */
export function errorBody(err: unknown, status: number): string {
  if (status >= 500) return JSON.stringify({ error: { code: 'ERR_INTERNAL', message: 'internal error' } });
  const e = err as { code: string; message: string };
  return JSON.stringify({ error: { code: e.code, message: e.message } });
}

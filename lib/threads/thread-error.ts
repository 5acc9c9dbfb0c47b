// Errors crossing the thread boundary. Structured cloning keeps an Error's class (for the
// built-in ones), message and stack but drops its own properties, and `.code` is what callers
// branch on (`ENOENT` from fs inside a worker): the worker sends a plain record and the caller
// rebuilds the error from it.

export interface ErrorRecord {
  name: string;
  message: string;
  stack: string | undefined;
  props: Record<string, unknown>;
  cause?: unknown;
}

/** What the worker returns: a value, or what was thrown. */
export type TaskOutcome = { ok: true; value: unknown } | { ok: false; error: ErrorRecord } | { ok: false; thrown: unknown };

const BUILTIN: Record<string, new (message: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

function cloneable(value: unknown): boolean {
  try {
    structuredClone(value);
    return true;
  } catch {
    return false;
  }
}

export function toRecord(err: Error): ErrorRecord {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(err)) {
    const value = (err as unknown as Record<string, unknown>)[key];
    if (key !== 'cause' && cloneable(value)) props[key] = value;
  }
  const record: ErrorRecord = { name: err.name, message: err.message, stack: err.stack, props };
  if (err.cause !== undefined) record.cause = err.cause instanceof Error ? toRecord(err.cause) : cloneable(err.cause) ? err.cause : String(err.cause);
  return record;
}

function isRecord(x: unknown): x is ErrorRecord {
  return x !== null && typeof x === 'object' && typeof (x as ErrorRecord).message === 'string' && typeof (x as ErrorRecord).props === 'object';
}

export function fromRecord(record: ErrorRecord): Error {
  const Ctor = BUILTIN[record.name] ?? Error;
  const err = new Ctor(record.message);
  if (err.name !== record.name) Object.defineProperty(err, 'name', { value: record.name, writable: true, configurable: true, enumerable: false });
  Object.assign(err, record.props);
  if (record.stack !== undefined) err.stack = record.stack;
  if (record.cause !== undefined) err.cause = isRecord(record.cause) ? fromRecord(record.cause) : record.cause;
  return err;
}

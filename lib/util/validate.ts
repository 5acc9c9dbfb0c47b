// Argument checks shared by every layer: options are validated here, in JS, before native code
// sees them, and every failure is a TypeError / RangeError / Error carrying a stable `.code`
// the way Node's own errors do.

export interface CodedError extends Error {
  code: string;
}

export function codedError<E extends Error>(
  ErrorClass: new (message: string) => E,
  code: string,
  message: string,
): E & { code: string } {
  const err = new ErrorClass(message) as E & { code: string };
  err.code = code;
  return err;
}

/** How a value is named in an error message (Node's wording: `Received type string ("x")`). */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'function') return `function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') return `an instance of ${value.constructor?.name ?? 'Object'}`;
  if (typeof value === 'string') return `type string (${JSON.stringify(value.length > 28 ? value.slice(0, 25) + '...' : value)})`;
  return `type ${typeof value} (${String(value)})`;
}

export function invalidArgType(name: string, expected: string, actual: unknown): TypeError & { code: string } {
  return codedError(
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    `The "${name}" argument must be ${expected}. Received ${describe(actual)}`,
  );
}

export function invalidArgValue(name: string, value: unknown, reason: string): TypeError & { code: string } {
  return codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `The argument '${name}' ${reason}. Received ${describe(value)}`);
}

export function outOfRange(name: string, range: string, value: unknown): RangeError & { code: string } {
  return codedError(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${String(value)}`,
  );
}

export function validateInteger(value: unknown, name: string, min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') throw invalidArgType(name, 'of type number', value);
  if (!Number.isInteger(value)) throw outOfRange(name, 'an integer', value);
  if (value < min || value > max) throw outOfRange(name, `>= ${min} && <= ${max}`, value);
  return value;
}

/** Any number but NaN (delays and deadlines may be negative: they mean "now"). */
export function validateNumber(value: unknown, name: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgType(name, 'of type number', value);
  return value;
}

/** One of a fixed list of strings. */
export function validateOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) throw invalidArgValue(name, value, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  return value as T;
}

/** A non-negative finite number of milliseconds. */
export function validateMs(value: unknown, name: string): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw invalidArgType(name, 'of type number', value);
  if (value < 0) throw outOfRange(name, '>= 0', value);
  return value;
}

export function validateFd(fd: unknown, name = 'fd'): number {
  return validateInteger(fd, name, 0, 0x7fffffff);
}

export function validateFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw invalidArgType(name, 'of type function', value);
}

export function validateObject(value: unknown, name: string): asserts value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidArgType(name, 'of type object', value);
  }
}

// Structured one-line logs: `<ISO time> <LEVEL> short desc, detail info: key`.
// A pino(-like) logger may stand in anywhere a Logger is taken (toLogger).
import { inspect } from 'util';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'critical';

export const LOG_LEVELS: readonly LogLevel[] = Object.freeze(['debug', 'info', 'warn', 'error', 'critical'] as const);

export type LogMethod = (desc: string, detail?: unknown, key?: unknown) => void;

export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
  critical: LogMethod;
}

export type LogSink = (line: string, level: LogLevel) => void;

export interface LoggerOptions {
  level?: LogLevel;
  sink?: LogSink;
}

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, critical: 50 };
const LABEL: Readonly<Record<LogLevel, string>> = {
  debug: 'DEBUG',
  info: 'INFO ',
  warn: 'WARN ',
  error: 'ERROR',
  critical: 'CRITICAL',
};

function checkLevel(level: unknown, where: string): LogLevel {
  if (typeof level === 'string' && Object.prototype.hasOwnProperty.call(RANK, level)) return level as LogLevel;
  const err = new TypeError(`${where}: level must be one of ${LOG_LEVELS.join(', ')}, got ${String(level)}`) as TypeError & {
    code: string;
  };
  err.code = 'ERR_INVALID_ARG_VALUE';
  throw err;
}

function text(x: unknown): string {
  if (typeof x === 'string') return x;
  if (x instanceof Error) {
    const code = (x as { code?: unknown }).code;
    return code !== undefined ? `${x.name} [${String(code)}]: ${x.message}` : `${x.name}: ${x.message}`;
  }
  return inspect(x, { breakLength: Infinity, compact: true, depth: 3 });
}

/** An Error's stack frames (the lines after its `Name: message` header), each on a new line; '' otherwise. */
function stackFrames(x: unknown): string {
  if (!(x instanceof Error) || typeof x.stack !== 'string') return '';
  const at = x.stack.indexOf('\n    at ');
  return at < 0 ? '' : x.stack.slice(at);
}

/** The line body without time and level: `desc, detail: key`, absent parts dropped. */
export function formatMessage(desc: string, detail?: unknown, key?: unknown): string {
  let line = text(desc);
  if (detail !== undefined) line += `, ${text(detail)}`;
  if (key !== undefined) line += `: ${text(key)}`;
  return line;
}

function defaultSink(line: string): void {
  process.stderr.write(line + '\n');
}

class EvloopLogger implements Logger {
  private threshold: number;
  private readonly sink: LogSink;

  constructor(options: LoggerOptions = {}) {
    if (options === null || typeof options !== 'object') {
      const err = new TypeError('createLogger: options must be an object') as TypeError & { code: string };
      err.code = 'ERR_INVALID_ARG_TYPE';
      throw err;
    }
    this.threshold = RANK[checkLevel(options.level ?? 'info', 'createLogger')];
    if (options.sink !== undefined && typeof options.sink !== 'function') {
      const err = new TypeError('createLogger: sink must be a function') as TypeError & { code: string };
      err.code = 'ERR_INVALID_ARG_TYPE';
      throw err;
    }
    this.sink = options.sink ?? defaultSink;
  }

  get level(): LogLevel {
    return LOG_LEVELS.find((l) => RANK[l] === this.threshold)!;
  }

  set level(level: LogLevel) {
    this.threshold = RANK[checkLevel(level, 'logger.level')];
  }

  isLevelEnabled(level: LogLevel): boolean {
    return RANK[level] >= this.threshold;
  }

  // The threshold is checked before anything is formatted, so a disabled call costs a compare.
  debug(desc: string, detail?: unknown, key?: unknown): void {
    if (this.threshold <= 10) this.emit('debug', desc, detail, key);
  }
  info(desc: string, detail?: unknown, key?: unknown): void {
    if (this.threshold <= 20) this.emit('info', desc, detail, key);
  }
  warn(desc: string, detail?: unknown, key?: unknown): void {
    if (this.threshold <= 30) this.emit('warn', desc, detail, key);
  }
  error(desc: string, detail?: unknown, key?: unknown): void {
    if (this.threshold <= 40) this.emit('error', desc, detail, key);
  }
  critical(desc: string, detail?: unknown, key?: unknown): void {
    this.emit('critical', desc, detail, key);
  }

  private emit(level: LogLevel, desc: string, detail: unknown, key: unknown): void {
    let line = `${new Date().toISOString()} ${LABEL[level]} ${formatMessage(desc, detail, key)}`;
    // A failure worth an error is worth its stack: the frames follow on their own lines.
    if (level === 'error' || level === 'critical') line += stackFrames(detail);
    this.sink(line, level);
  }
}

/** A logger writing `<ISO time> <LEVEL> desc, detail: key` lines to `sink` (default: stderr). */
export function createLogger(options?: LoggerOptions): Logger & { level: LogLevel; isLevelEnabled(level: LogLevel): boolean } {
  return new EvloopLogger(options);
}

/** The shape of a pino logger that toLogger accepts (pino's own type is not a dependency). */
export interface PinoLike {
  fatal: (obj: object, msg?: string) => void;
  error: (obj: object, msg?: string) => void;
  warn: (obj: object, msg?: string) => void;
  info: (obj: object, msg?: string) => void;
  debug: (obj: object, msg?: string) => void;
  child?: unknown;
}

const PINO_METHOD: Readonly<Record<LogLevel, keyof PinoLike>> = {
  debug: 'debug',
  info: 'info',
  warn: 'warn',
  error: 'error',
  critical: 'fatal',
};

function pinoMethod(target: PinoLike, level: LogLevel): LogMethod {
  const name = PINO_METHOD[level];
  return (desc, detail, key) => {
    const fn = target[name] as (this: PinoLike, ...args: unknown[]) => void;
    if (typeof fn !== 'function') return;
    if (detail === undefined && key === undefined) {
      fn.call(target, desc);
      return;
    }
    // pino serialises an Error under `err` with its standard serializer (stack, type, code).
    const obj: Record<string, unknown> = {};
    if (detail instanceof Error) obj.err = detail;
    else if (detail !== undefined) obj.detail = detail;
    if (key !== undefined) obj.key = key;
    fn.call(target, obj, desc);
  };
}

const wrapped = new WeakMap<object, Logger>();
let defaultLogger: Logger | undefined;

function isEvloopLogger(x: Record<string, unknown>): boolean {
  return (
    typeof x.debug === 'function' &&
    typeof x.info === 'function' &&
    typeof x.warn === 'function' &&
    typeof x.error === 'function' &&
    typeof x.critical === 'function'
  );
}

/**
 * Any accepted logger as an evloop Logger: `undefined` is the shared default (level info, to
 * stderr); an evloop Logger is returned as is; a pino-like logger (it has `fatal` and `info`)
 * is wrapped so that `critical` goes to `fatal` and detail/key travel as a merge object.
 */
export function toLogger(x?: unknown): Logger {
  if (x === undefined || x === null) return (defaultLogger ??= createLogger());
  if (typeof x === 'object' || typeof x === 'function') {
    const o = x as Record<string, unknown>;
    if (isEvloopLogger(o)) return o as unknown as Logger;
    if (typeof o.fatal === 'function' && typeof o.info === 'function') {
      let logger = wrapped.get(o);
      if (!logger) {
        const target = o as unknown as PinoLike;
        logger = {
          debug: pinoMethod(target, 'debug'),
          info: pinoMethod(target, 'info'),
          warn: pinoMethod(target, 'warn'),
          error: pinoMethod(target, 'error'),
          critical: pinoMethod(target, 'critical'),
        };
        wrapped.set(o, logger);
      }
      return logger;
    }
  }
  const err = new TypeError(
    'logger must be an evloop Logger (debug, info, warn, error, critical) or a pino-like logger (fatal, info)',
  ) as TypeError & { code: string };
  err.code = 'ERR_INVALID_ARG_TYPE';
  throw err;
}

// RESP2/RESP3 reply parsing, incremental over the chunks a socket delivers. The common case —
// whole replies inside one chunk — runs straight through the chunk with no copy; a reply split
// across chunks resumes where it stopped (open arrays live on a frame stack, so a large array
// is never re-parsed), and a large bulk string collects its chunks and is joined once.
import { Buffer } from 'node:buffer';
import { RedisConnectionError, RedisError } from '../util/errors';

const CR = 13;
const LF = 10;

// Type bytes.
const T_SIMPLE = 43; // +
const T_ERROR = 45; // -
const T_INTEGER = 58; // :
const T_BULK = 36; // $
const T_ARRAY = 42; // *
const T_NULL = 95; // _
const T_BOOLEAN = 35; // #
const T_DOUBLE = 44; // ,
const T_BIGNUM = 40; // (
const T_BLOB_ERROR = 33; // !
const T_VERBATIM = 61; // =
const T_MAP = 37; // %
const T_SET = 126; // ~
const T_ATTRIBUTE = 124; // |
const T_PUSH = 62; // >

/** A RESP3 map reply whose keys are not all strings keeps its pairs: `[k1, v1, k2, v2, …]`. */
export type RespValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Buffer
  | RedisError
  | RespValue[]
  | { [key: string]: RespValue };

export interface RespParserOptions {
  /** A complete top-level reply (not an error reply, not a push). */
  onReply(value: RespValue): void;
  /** A top-level error reply (`-ERR …` or a RESP3 blob error). Nested errors stay values. */
  onError(err: RedisError): void;
  /** A RESP3 push (`>`): pub/sub messages, client-side caching invalidations. */
  onPush?(value: RespValue[]): void;
  /** Bulk strings as Buffers (copied out of the chunk) instead of UTF-8 strings. */
  returnBuffers?: boolean;
}

interface Frame {
  type: number;
  items: RespValue[];
  i: number;
  n: number;
}

type SliceableBuffer = Buffer & { utf8Slice(start: number, end: number): string; latin1Slice(start: number, end: number): string };

function protocolError(detail: string): RedisConnectionError {
  return new RedisConnectionError(`Redis protocol error: ${detail}`, 'ERR_REDIS_PROTOCOL');
}

/**
 * The parser keeps references to the chunks it was fed until the reply they hold is complete:
 * callers must not overwrite a chunk after feeding it (evloop's transports never do).
 */
export class RespParser {
  onReply: (value: RespValue) => void;
  onError: (err: RedisError) => void;
  onPush: (value: RespValue[]) => void;
  returnBuffers: boolean;

  // Open aggregates, innermost last; frames are reused by depth.
  #frames: Frame[] = [];
  #depth = 0;
  // An incomplete line or bulk header, joined to the next chunk.
  #rest: Buffer | null = null;
  // A bulk string whose header is read and whose body (plus CRLF) spans chunks.
  #bulkType = 0;
  #bulkNeed = 0;
  #bulkHave = 0;
  #bulkParts: Buffer[] = [];
  #broken: RedisConnectionError | null = null;

  constructor(options: RespParserOptions) {
    this.onReply = options.onReply;
    this.onError = options.onError;
    this.onPush = options.onPush ?? (() => {});
    this.returnBuffers = options.returnBuffers === true;
  }

  /** Drops any partial reply (after a reconnect the stream starts afresh). */
  reset(): void {
    this.#depth = 0;
    this.#rest = null;
    this.#bulkNeed = 0;
    this.#bulkHave = 0;
    this.#bulkParts = [];
    this.#broken = null;
  }

  /** True while a reply has started but not ended. */
  get partial(): boolean {
    return this.#depth > 0 || this.#rest !== null || this.#bulkNeed > 0;
  }

  /** Parses what `chunk` completes. Throws a RedisConnectionError ('ERR_REDIS_PROTOCOL') on bytes that are not RESP. */
  feed(chunk: Buffer): void {
    if (this.#broken !== null) throw this.#broken;
    let buf: Buffer;
    let pos = 0;
    if (this.#bulkNeed > 0) {
      this.#bulkParts.push(chunk);
      this.#bulkHave += chunk.length;
      if (this.#bulkHave < this.#bulkNeed) return;
      buf = this.#bulkParts.length === 1 ? this.#bulkParts[0]! : Buffer.concat(this.#bulkParts, this.#bulkHave);
      const need = this.#bulkNeed;
      this.#bulkParts = [];
      this.#bulkNeed = 0;
      this.#bulkHave = 0;
      if (buf[need - 2] !== CR || buf[need - 1] !== LF) this.#fail('bulk string not followed by CRLF');
      const type = this.#bulkType;
      this.#complete(this.#bulkValue(type, buf, 0, need - 2), type === T_BLOB_ERROR);
      pos = need;
    } else if (this.#rest !== null) {
      buf = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    } else {
      buf = chunk;
    }
    const len = buf.length;
    while (pos < len) {
      const next = this.#parseOne(buf, pos);
      if (next < 0) return; // the rest is kept in #rest or #bulkParts
      pos = next;
    }
  }

  #fail(detail: string): never {
    this.#broken = protocolError(detail);
    throw this.#broken;
  }

  /** Reads the element at `pos`; returns the position after it, or -1 when the chunk ends inside it. */
  #parseOne(buf: Buffer, pos: number): number {
    const type = buf[pos]!;
    // Every element starts with a line: find its CRLF.
    const cr = buf.indexOf(CR, pos + 1);
    if (cr < 0 || cr + 1 >= buf.length) {
      this.#rest = buf.subarray(pos);
      return -1;
    }
    if (buf[cr + 1] !== LF) this.#fail('CR not followed by LF');
    const next = cr + 2;
    switch (type) {
      case T_BULK:
      case T_VERBATIM:
      case T_BLOB_ERROR: {
        const n = this.#integer(buf, pos + 1, cr);
        if (n < 0) {
          if (n !== -1) this.#fail(`bad bulk length ${n}`);
          this.#complete(null, false);
          return next;
        }
        const end = next + n;
        if (end + 2 <= buf.length) {
          if (buf[end] !== CR || buf[end + 1] !== LF) this.#fail('bulk string not followed by CRLF');
          this.#complete(this.#bulkValue(type, buf, next, end), type === T_BLOB_ERROR);
          return end + 2;
        }
        this.#bulkType = type;
        this.#bulkNeed = n + 2;
        this.#bulkHave = buf.length - next;
        this.#bulkParts = this.#bulkHave > 0 ? [buf.subarray(next)] : [];
        return -1;
      }
      case T_SIMPLE:
        this.#complete(cr === pos + 3 && buf[pos + 1] === 79 && buf[pos + 2] === 75 ? 'OK' : (buf as SliceableBuffer).utf8Slice(pos + 1, cr), false);
        return next;
      case T_INTEGER:
        this.#complete(this.#integer(buf, pos + 1, cr), false);
        return next;
      case T_ERROR:
        this.#complete(new RedisError((buf as SliceableBuffer).utf8Slice(pos + 1, cr)), true);
        return next;
      case T_ARRAY:
      case T_SET:
      case T_PUSH:
      case T_MAP:
      case T_ATTRIBUTE: {
        const count = this.#integer(buf, pos + 1, cr);
        if (count < 0) {
          if (count !== -1 || type !== T_ARRAY) this.#fail(`bad aggregate length ${count}`);
          this.#complete(null, false);
        } else if (count === 0) {
          if (type === T_ATTRIBUTE) return next;
          if (type === T_PUSH && this.#depth === 0) this.onPush([]);
          else this.#complete(type === T_MAP ? {} : [], false);
        } else {
          const n = type === T_MAP || type === T_ATTRIBUTE ? count * 2 : count;
          let f = this.#frames[this.#depth];
          if (f === undefined) {
            f = { type, items: new Array(n), i: 0, n };
            this.#frames.push(f);
          } else {
            f.type = type;
            f.items = new Array(n);
            f.i = 0;
            f.n = n;
          }
          this.#depth++;
        }
        return next;
      }
      case T_NULL:
        this.#complete(null, false);
        return next;
      case T_BOOLEAN:
        this.#complete(buf[pos + 1] === 116, false); // 't'
        return next;
      case T_DOUBLE: {
        const text = (buf as SliceableBuffer).latin1Slice(pos + 1, cr);
        const v = text === 'inf' ? Infinity : text === '-inf' ? -Infinity : text === 'nan' ? NaN : Number(text);
        if (Number.isNaN(v) && text !== 'nan') this.#fail(`bad double ${JSON.stringify(text)}`);
        this.#complete(v, false);
        return next;
      }
      case T_BIGNUM: {
        let v: bigint;
        try {
          v = BigInt((buf as SliceableBuffer).latin1Slice(pos + 1, cr));
        } catch {
          this.#fail('bad big number');
        }
        this.#complete(v, false);
        return next;
      }
      default:
        return this.#fail(`unexpected type byte 0x${type.toString(16)}`);
    }
  }

  /** A decimal integer between `start` and `end` (exclusive), parsed without a string. */
  #integer(buf: Buffer, start: number, end: number): number {
    let i = start;
    let neg = false;
    if (buf[i] === 45) {
      neg = true;
      i++;
    }
    if (i >= end) this.#fail('empty integer');
    if (end - i > 15) {
      // Beyond 2^53 digits cannot be summed exactly; Number() rounds like JSON does.
      const v = Number((buf as SliceableBuffer).latin1Slice(start, end));
      if (!Number.isInteger(v)) this.#fail('bad integer');
      return v;
    }
    let v = 0;
    for (; i < end; i++) {
      const d = buf[i]! - 48;
      if (d < 0 || d > 9) this.#fail('bad integer');
      v = v * 10 + d;
    }
    return neg ? -v : v;
  }

  #bulkValue(type: number, buf: Buffer, start: number, end: number): RespValue {
    if (type === T_BLOB_ERROR) return new RedisError((buf as SliceableBuffer).utf8Slice(start, end));
    // A verbatim string starts with its format: 'txt:' or 'mkd:'.
    if (type === T_VERBATIM) start = Math.min(start + 4, end);
    if (!this.returnBuffers) return (buf as SliceableBuffer).utf8Slice(start, end);
    const out = Buffer.allocUnsafe(end - start);
    buf.copy(out, 0, start, end);
    return out;
  }

  /** Places a finished value in its open aggregate, closing aggregates it completes. */
  #complete(value: RespValue, isError: boolean): void {
    for (;;) {
      if (this.#depth === 0) {
        if (isError) this.onError(value as RedisError);
        else this.onReply(value);
        return;
      }
      const f = this.#frames[this.#depth - 1]!;
      f.items[f.i++] = value;
      if (f.i < f.n) return;
      this.#depth--;
      isError = false;
      const type = f.type;
      const items = f.items;
      f.items = EMPTY;
      if (type === T_ARRAY || type === T_SET) {
        value = items;
      } else if (type === T_MAP) {
        value = toObject(items);
      } else if (type === T_ATTRIBUTE) {
        return; // metadata about the next value, which follows on its own
      } else {
        // A push is out of band: delivered on its own even when it arrives mid-reply.
        if (this.#depth === 0) {
          this.onPush(items);
          return;
        }
        value = items;
      }
    }
  }
}

const EMPTY: RespValue[] = [];

function toObject(items: RespValue[]): RespValue {
  const obj: { [key: string]: RespValue } = {};
  for (let i = 0; i < items.length; i += 2) {
    const k = items[i];
    if (typeof k !== 'string' && typeof k !== 'number') return items;
    obj[k] = items[i + 1]!;
  }
  return obj;
}

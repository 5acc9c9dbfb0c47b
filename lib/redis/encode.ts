// Commands as RESP arrays of bulk strings. A pipeline is built as one JS string (V8 concatenates
// it as a rope) and turned into bytes once, so a batch of commands costs one Buffer and one write;
// Buffer arguments are joined in between the string's pieces.
import { Buffer } from 'node:buffer';
import { invalidArgType, invalidArgValue } from '../util/validate';

export type CommandArg = string | Buffer | Uint8Array | number | bigint;

/** Bytes of `s` in UTF-8; short ASCII strings (keys, numbers) are counted without a native call. */
function utf8Length(s: string): number {
  const n = s.length;
  if (n > 64) return Buffer.byteLength(s, 'utf8');
  for (let i = 0; i < n; i++) {
    if (s.charCodeAt(i) > 0x7f) return Buffer.byteLength(s, 'utf8');
  }
  return n;
}

function numberArg(v: number, name: string): string {
  if (Number.isFinite(v)) return String(v);
  // Redis spells the infinities its own way (ZADD, ZRANGEBYSCORE, INCRBYFLOAT); NaN has no spelling.
  if (v === Infinity) return '+inf';
  if (v === -Infinity) return '-inf';
  throw invalidArgValue(name, v, 'must not be NaN');
}

/**
 * Collects commands until `take()`. Arguments are validated as they are added, so a bad one
 * throws before anything of its command is queued.
 */
export class CommandEncoder {
  #str = '';
  #parts: Buffer[] = [];
  #count = 0;

  /** Commands added since the last `take()`. */
  get count(): number {
    return this.#count;
  }

  /** Appends one command; `args[0]` is its name. Throws TypeError ('ERR_INVALID_ARG_TYPE') on an argument of another type. */
  add(args: ArrayLike<unknown>): void {
    const n = args.length;
    if (n === 0) throw invalidArgValue('args', args, 'must name a command');
    // Validate and stringify first: a bad argument must leave nothing half-written.
    let hasBytes = false;
    let s = `*${n}\r\n`;
    for (let i = 0; i < n; i++) {
      const a = args[i];
      if (typeof a === 'string') {
        s += `$${utf8Length(a)}\r\n${a}\r\n`;
      } else if (typeof a === 'number') {
        const t = numberArg(a, `args[${i}]`);
        s += `$${t.length}\r\n${t}\r\n`;
      } else if (a instanceof Uint8Array) {
        hasBytes = true;
        break;
      } else if (typeof a === 'bigint') {
        const t = a.toString();
        s += `$${t.length}\r\n${t}\r\n`;
      } else {
        throw invalidArgType(`args[${i}]`, 'of type string or number, or an instance of Buffer or Uint8Array', a);
      }
    }
    if (!hasBytes) {
      this.#str += s;
      this.#count++;
      return;
    }
    this.#addWithBytes(args, n);
  }

  #addWithBytes(args: ArrayLike<unknown>, n: number): void {
    const pieces: Array<string | Uint8Array> = [];
    for (let i = 0; i < n; i++) {
      const a = args[i];
      if (typeof a === 'string') pieces.push(a);
      else if (typeof a === 'number') pieces.push(numberArg(a, `args[${i}]`));
      else if (typeof a === 'bigint') pieces.push(a.toString());
      else if (a instanceof Uint8Array) pieces.push(a);
      else throw invalidArgType(`args[${i}]`, 'of type string or number, or an instance of Buffer or Uint8Array', a);
    }
    let s = this.#str + `*${n}\r\n`;
    for (const p of pieces) {
      if (typeof p === 'string') {
        s += `$${utf8Length(p)}\r\n${p}\r\n`;
      } else {
        s += `$${p.length}\r\n`;
        this.#parts.push(Buffer.from(s, 'utf8'));
        this.#parts.push(Buffer.isBuffer(p) ? p : Buffer.from(p.buffer, p.byteOffset, p.length));
        s = '\r\n';
      }
    }
    this.#str = s;
    this.#count++;
  }

  /**
   * The bytes of every command added since the last call, as one Buffer (null when none).
   * Buffer arguments are copied here, so they must not change between `add` and `take`.
   */
  take(): Buffer | null {
    if (this.#count === 0) return null;
    const str = this.#str;
    let out: Buffer;
    if (this.#parts.length === 0) {
      out = Buffer.from(str, 'utf8');
    } else {
      const parts = this.#parts;
      if (str.length > 0) parts.push(Buffer.from(str, 'utf8'));
      out = Buffer.concat(parts);
      this.#parts = [];
    }
    this.#str = '';
    this.#count = 0;
    return out;
  }
}

/** One command's bytes (tests, one-off writes). */
export function encodeCommand(args: ArrayLike<unknown>): Buffer {
  const enc = new CommandEncoder();
  enc.add(args);
  return enc.take()!;
}

// asyncio's streams (Lib/asyncio/streams.py): StreamReader, StreamReaderProtocol, StreamWriter and
// the openConnection / startServer helpers, on evloop's transports.
//
// Every read returns a Future. When the buffer already holds the answer the Future comes back
// resolved (no task, no extra loop turn); otherwise the reader keeps one pending read — the
// counterpart of asyncio's `_wait_for_data` waiter — and retries it as data arrives.
// Node 20's global `Buffer` is an accessor on globalThis: every use in a hot path is a getter
// call through the global-load IC (about 120 instructions per message in the streams echo). The
// module's binding is a plain property load that the optimizing compiler folds.
import { Buffer } from 'node:buffer';
import type { SocketAddress } from '../native/binding';
import { createConnection, createUnixConnection, type ConnectionOptions } from '../io/connection';
import { IncompleteReadError, LimitOverrunError } from '../util/errors';
import { Future, settledFuture, UNCLAIMED } from '../core/future';
import { getRunningLoop, type EventLoop } from '../core/loop';
import { createServer, createUnixServer, type Server, type ServerOptions, type UnixServerOptions } from '../io/server';
import { formatAddress } from '../io/address';
import { isGenerator, isThenable, setResultStepping } from '../core/task';
import { current as runningContext, releaseFrames, retainFrames } from '../core/context';
import { newStepFuture } from './step-future';
import { validateBytes } from '../io/transports';
import type { Transport } from '../io/transport-types';
import type { Socket } from '../io/socket';
import { codedError, invalidArgType, invalidArgValue, outOfRange, validateFunction } from '../util/validate';

/** asyncio's `_DEFAULT_LIMIT`: 64 KiB. */
export const DEFAULT_LIMIT = 64 * 1024;

const EMPTY = Buffer.alloc(0);
// A module constant: optimized code folds it (an imported name is a field load at each use).
const UNCLAIMED_FLAG = UNCLAIMED;
// Held bytes up to this size are copied out of the transport's read slabs when a read waits.
const COMPACT_MAX = 16 * 1024;
const NEWLINE = Buffer.from('\n');
const NEED_DATA: unique symbol = Symbol('needData');
// A module constant: optimized code folds the object (an imported name is a field load).
const current = runningContext;

// What the one waiting read is. Kept as a number plus fields on the reader, not as a closure:
// a read that waits is the common case of a request/response server, and a closure and a
// record per read showed up in its profile.
const READ = 0; // read(n > 0): n
const READ_ALL = 1; // read(-1): the blocks taken so far
const EXACTLY = 2; // readExactly(n): n
const UNTIL = 3; // readUntil(sep): where the next search starts
const LINE = 4; // readLine(): where the next search starts
const LINE_ITER = 5; // the async iterator's next(): as LINE, answered as an IteratorResult
// The waiting read's holder (StreamReader.#slot) and how many waits it serves.
interface WaiterSlot {
  w: Future<unknown> | null;
  uses: number;
}
const SLOT_USES = 32;
type ReadKind = typeof READ | typeof READ_ALL | typeof EXACTLY | typeof UNTIL | typeof LINE | typeof LINE_ITER;

export interface StreamReaderOptions {
  /** Bounds `readLine` / `readUntil` and the buffering before reading pauses (2 × limit). */
  limit?: number;
  loop?: EventLoop;
}

function validateLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== 'number') throw invalidArgType('limit', 'of type number', limit);
  if (!Number.isInteger(limit) || limit <= 0) throw outOfRange('limit', 'a positive integer', limit);
  return limit;
}

function toBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** feedData's `data` when it is not a Buffer. */
function fedBuffer(data: unknown): Buffer {
  if (data instanceof Uint8Array) return toBuffer(data);
  throw invalidArgType('data', 'an instance of Buffer or Uint8Array', data);
}

function toSeparator(sep: unknown): Buffer {
  let buf: Buffer;
  if (typeof sep === 'string') buf = Buffer.from(sep, 'utf8');
  else if (sep instanceof Uint8Array) buf = toBuffer(sep);
  else throw invalidArgType('separator', 'of type string or an instance of Buffer or Uint8Array', sep);
  if (buf.length === 0) throw invalidArgValue('separator', sep, 'must be at least one byte long');
  return buf;
}

function validateCount(n: unknown, name: string, min: number): number {
  if (typeof n !== 'number') throw invalidArgType(name, 'of type number', n);
  if (!Number.isInteger(n)) throw outOfRange(name, 'an integer', n);
  if (n < min) throw outOfRange(name, `>= ${min}`, n);
  return n;
}

/**
 * Buffers what a connection receives and serves it to readers. Chunks are kept as they arrive
 * (a list plus an offset into the first), so buffering is O(1) per chunk and a read that lines
 * up with a chunk costs no copy.
 */
export class StreamReader implements AsyncIterable<Buffer> {
  readonly #limit: number;
  #loop: EventLoop | null;
  #chunks: Buffer[] = [];
  #head = 0; // index of the first chunk still holding unread bytes
  #headOffset = 0; // bytes of chunks[#head] already read
  #size = 0;
  #eof = false;
  #exception: Error | null = null;
  #transport: Transport | null = null;
  #paused = false;
  // The waiting read (asyncio's `_waiter`): its Future, what it reads, and its argument — the
  // count for READ / EXACTLY, the search offset for UNTIL / LINE / LINE_ITER (so waiting for a
  // long line stays linear).
  // Kept in a slot object renewed every SLOT_USES waits rather than on the reader: the reader
  // lives long and the Future is new, so storing it on the reader took a write barrier per wait
  // (~50 instructions a message in the streams echo servers), while the slot is almost always
  // young itself (a young-generation GC comes after thousands of reads, see future.ts's holder).
  // The first wait renews it: the renewal has run before a handler that inlines read() is
  // optimized (a branch never taken by then is compiled as a deoptimization point).
  #slot: WaiterSlot = { w: null, uses: 1 };
  #waitKind: ReadKind = READ;
  #waitArg = 0;
  #waitSep: Buffer | null = null;
  #waitBlocks: Buffer[] | null = null;
  // #waiter was answered by handing it the bytes (not left in the buffer, as asyncio's waiter
  // is): kept until the next read, which takes the bytes back when a generator task cancelled
  // before its step never took them (UNCLAIMED, see Task._step) — so that a cancelled read
  // consumes nothing. A read by another task before that step finds the bytes not given back.
  #handed = false;
  // Where a search that needs more data starts next time (set by #tryReadUntil).
  #nextOffset = 0;

  constructor(options: StreamReaderOptions = {}) {
    if (options === null || typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
    this.#limit = validateLimit(options.limit);
    this.#loop = options.loop ?? null;
  }

  get limit(): number {
    return this.#limit;
  }

  /** Bytes buffered and not yet read. */
  get bufferedSize(): number {
    if (this.#handed) this.#settleHanded();
    return this.#size;
  }

  #getLoop(): EventLoop {
    return (this.#loop ??= getRunningLoop());
  }

  exception(): Error | null {
    return this.#exception;
  }

  /** Every pending and future read fails with `err` (the connection broke). */
  setException(err: Error): void {
    this.#exception = err;
    const waiter = this.#slot.w;
    if (waiter !== null) {
      this.#clearWaiter();
      if (!waiter.done()) waiter.setException(err);
    }
  }

  setTransport(transport: Transport): void {
    if (this.#transport !== null) throw codedError(Error, 'ERR_INVALID_STATE', 'Transport already set');
    this.#transport = transport;
  }

  feedEof(): void {
    this.#eof = true;
    this.#retryPending();
  }

  /** True once the peer's EOF arrived, even if bytes before it are still buffered. */
  get eofReceived(): boolean {
    return this.#eof;
  }

  /** True when the peer sent EOF and everything before it has been read. */
  atEof(): boolean {
    if (this.#handed) this.#settleHanded();
    return this.#eof && this.#size === 0;
  }

  /** Appends `data` (kept by reference, not copied: the transport never reuses a buffer it hands over). */
  feedData(data: Uint8Array): void {
    if (this.#eof) throw codedError(Error, 'ERR_STREAM_PUSH_AFTER_EOF', 'feedData() after feedEof()');
    // What a transport hands over is a Buffer: with `Buffer` a constant this is a map check the
    // compiler inlines (Object.getPrototypeOf was a runtime call, ~120 instructions a message).
    const buf = data instanceof Buffer ? data : fedBuffer(data);
    if (buf.length === 0) return;
    const waiter = this.#slot.w;
    if (waiter !== null && this.#size === 0 && !this.#handed) {
      // A read waiting on an empty buffer that this chunk answers whole takes the chunk itself:
      // it never enters the buffer (the echo / request-response case).
      const kind = this.#waitKind;
      if ((kind === READ && buf.length <= this.#waitArg) || (kind === EXACTLY && buf.length === this.#waitArg)) {
        if (!waiter.done()) {
          this.#handed = true;
          return setResultStepping(waiter as Future<Buffer>, buf);
        }
        // Cancelled while waiting: the chunk is buffered for the next read.
        this.#clearWaiter();
      }
    }
    // Apart: feedData is inlined into the protocol's dataReceived, and V8 inlines into one
    // function only so much code; what a waiting read's settling inlines must fit too.
    this.#buffer(buf);
  }

  #buffer(buf: Buffer): void {
    this.#chunks.push(buf);
    this.#size += buf.length;
    this.#retryPending();
    // asyncio pauses here and lets `_wait_for_data` resume at once when a read still waits;
    // skipping the pause in that case ends in the same state without two syscalls.
    if ((this.#slot.w === null || this.#handed) && this.#transport !== null && !this.#paused && this.#size > 2 * this.#limit) {
      this.#transport.pauseReading();
      this.#paused = true;
    }
  }

  #maybeResumeTransport(): void {
    if (this.#paused && this.#size <= this.#limit) {
      this.#paused = false;
      this.#transport!.resumeReading();
    }
  }

  // ---- the pending read (asyncio's _wait_for_data) -------------------------------------------

  #retryPending(): void {
    const waiter = this.#slot.w;
    if (waiter === null || this.#handed) return;
    if (waiter.done()) {
      // Cancelled while waiting: the read is abandoned, as when asyncio's waiter is cancelled.
      this.#clearWaiter();
      return;
    }
    let value: unknown;
    try {
      value = this.#attempt(this.#waitKind, this.#waitArg, this.#waitSep, this.#waitBlocks);
    } catch (err) {
      this.#clearWaiter();
      waiter.setException(err);
      return;
    }
    if (value === NEED_DATA) {
      if (this.#waitKind >= UNTIL) this.#waitArg = this.#nextOffset;
      this.#compactHeld();
      return this.#resumeForWaiting();
    }
    this.#handed = true;
    this.#waitSep = null;
    this.#waitBlocks = null;
    setResultStepping(waiter, value);
  }

  /**
   * The handed read is over (see #handed): its bytes back at the head if its task never took
   * them. Small enough to inline into every read: a handed read's #waitSep and #waitBlocks are
   * null already (READ / EXACTLY never set them, #retryPending clears them).
   */
  #settleHanded(): void {
    const waiter = this.#slot.w!;
    this.#handed = false;
    this.#slot.w = null;
    if ((waiter._flags & UNCLAIMED_FLAG) !== 0) this.#giveBack(waiter);
  }

  #giveBack(waiter: Future<unknown>): void {
    waiter._flags &= ~UNCLAIMED_FLAG;
    const bytes = waiter._result;
    // A line iterator's result is an object; async functions, the iterator's only users, always take theirs.
    if (!(bytes instanceof Buffer) || bytes.length === 0) return;
    const chunks = this.#chunks;
    if (this.#headOffset !== 0) {
      chunks[this.#head] = chunks[this.#head]!.subarray(this.#headOffset);
      this.#headOffset = 0;
    }
    if (this.#head > 0) chunks[--this.#head] = bytes;
    else chunks.unshift(bytes);
    this.#size += bytes.length;
  }

  #clearWaiter(): void {
    this.#handed = false;
    this.#slot.w = null;
    this.#waitSep = null;
    this.#waitBlocks = null;
  }

  // Waiting for data while paused would never end.
  #resumeForWaiting(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#transport!.resumeReading();
    }
  }

  /** One try of a read: its answer, or NEED_DATA (UNTIL / LINE / LINE_ITER then leave #nextOffset). */
  #attempt(kind: ReadKind, arg: number, sep: Buffer | null, blocks: Buffer[] | null): unknown {
    switch (kind) {
      case READ:
        return this.#tryRead(arg);
      case READ_ALL:
        return this.#tryReadAll(blocks!);
      case EXACTLY:
        return this.#tryReadExactly(arg);
      case UNTIL:
        return this.#tryReadUntil(sep!, arg);
      case LINE:
        return this.#tryReadLine(arg);
      default: {
        const line = this.#tryReadLine(arg);
        if (line === NEED_DATA) return NEED_DATA;
        return line.length === 0 ? { done: true, value: undefined } : { done: false, value: line };
      }
    }
  }

  #read<T>(name: string, kind: ReadKind, arg: number, sep: Buffer | null, blocks: Buffer[] | null): Future<T> {
    if (this.#handed) this.#settleHanded();
    const loop = this.#getLoop();
    const future = current.stepTask !== null ? newStepFuture<T>(loop) : loop.createFuture<T>();
    let value: unknown;
    try {
      value = this.#attempt(kind, arg, sep, blocks);
    } catch (err) {
      future.setException(err);
      return future;
    }
    if (value !== NEED_DATA) {
      future.setResult(value as T);
      return future;
    }
    if (this.#slot.w !== null && !this.#slot.w.done()) {
      future.setException(
        codedError(Error, 'ERR_READ_IN_PROGRESS', `${name}() called while another coroutine is already waiting for incoming data`),
      );
      return future;
    }
    this.#hold(future as Future<unknown>);
    this.#waitKind = kind;
    this.#waitArg = kind >= UNTIL ? this.#nextOffset : arg;
    this.#waitSep = sep;
    this.#waitBlocks = blocks;
    this.#compactHeld();
    this.#resumeForWaiting();
    return future;
  }

  /** Makes `future` the waiting read (see #slot). */
  #hold(future: Future<unknown>): void {
    const slot = this.#slot;
    slot.w = future;
    // Rare (one wait in SLOT_USES), so V8 leaves the call out of line and the hot read stays
    // within what it inlines into a handler.
    if (--slot.uses === 0) this.#renewSlot(future);
  }

  #renewSlot(future: Future<unknown>): void {
    this.#slot = { w: future, uses: SLOT_USES };
  }

  /** read(n) on an empty buffer with no other read waiting: as #read finding NEED_DATA, minus what an empty buffer makes moot. */
  #waitRead(n: number): Future<Buffer> {
    // Written out rather than through #getLoop and #hold: V8 inlines only so much bytecode into
    // a handler, and this path must fit with the handler's drain().
    const loop = this.#loop ?? this.#getLoop();
    // A generator task's step: no native promise (see step-future.ts).
    const future = current.stepTask !== null ? newStepFuture<Buffer>(loop) : loop.createFuture<Buffer>();
    const slot = this.#slot;
    slot.w = future as Future<unknown>;
    if (--slot.uses === 0) this.#renewSlot(future as Future<unknown>);
    this.#handed = false;
    this.#waitKind = READ;
    this.#waitArg = n;
    if (this.#paused) this.#resumeForWaiting();
    return future;
  }

  /**
   * A read that waits keeps what is buffered, and that is views into the transport's shared
   * 512 KiB read slabs: a few bytes held that way pin a whole slab (2,000 connections each
   * waiting on a 10-byte partial line pinned 1 GiB). Small holdings are copied into a buffer of
   * their own — once per wait, so the pipelined fast path (which rarely waits while holding
   * bytes) pays nothing; bulk holdings stay views, as copying them would cost more than they pin.
   */
  #compactHeld(): void {
    const size = this.#size;
    if (size === 0 || size > COMPACT_MAX) return;
    const chunks = this.#chunks;
    let pins = false;
    for (let i = this.#head; i < chunks.length; i++) {
      const backing = chunks[i]!.buffer.byteLength;
      if (backing > COMPACT_MAX && backing > 4 * size) {
        pins = true;
        break;
      }
    }
    if (!pins) return;
    // Unpooled: a copy in Node's shared 8 KiB pool would pin that pool instead.
    const copy = Buffer.allocUnsafeSlow(size);
    let at = chunks[this.#head]!.copy(copy, 0, this.#headOffset);
    for (let i = this.#head + 1; i < chunks.length; i++) at += chunks[i]!.copy(copy, at);
    this.#chunks = [copy];
    this.#head = 0;
    this.#headOffset = 0;
  }

  // ---- the buffer ----------------------------------------------------------------------------

  /** Removes and returns the first `n` bytes (n ≤ size); a view when they lie in one chunk. */
  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const chunks = this.#chunks;
    const first = chunks[this.#head]!;
    const start = this.#headOffset;
    let out: Buffer;
    if (first.length - start >= n) {
      out = start === 0 && n === first.length ? first : first.subarray(start, start + n);
      this.#skip(n);
      return out;
    }
    out = Buffer.allocUnsafe(n);
    let written = 0;
    let index = this.#head;
    let offset = start;
    while (written < n) {
      const chunk = chunks[index]!;
      const count = Math.min(chunk.length - offset, n - written);
      chunk.copy(out, written, offset, offset + count);
      written += count;
      offset += count;
      if (offset === chunk.length) {
        index++;
        offset = 0;
      }
    }
    this.#skip(n);
    return out;
  }

  /** Drops the first `n` bytes (n ≤ size). */
  #skip(n: number): void {
    this.#size -= n;
    if (this.#size === 0) {
      // One chunk (the usual case): emptied in place, no new array per read.
      if (this.#chunks.length === 1) this.#chunks.pop();
      else this.#chunks = [];
      this.#head = 0;
      this.#headOffset = 0;
      return;
    }
    const chunks = this.#chunks;
    let head = this.#head;
    let offset = this.#headOffset + n;
    while (offset >= chunks[head]!.length) {
      offset -= chunks[head]!.length;
      head++;
    }
    this.#head = head;
    this.#headOffset = offset;
    if (head >= 32 && head * 2 >= chunks.length) {
      this.#chunks = chunks.slice(head);
      this.#head = 0;
    }
  }

  #takeAll(): Buffer {
    return this.#take(this.#size);
  }

  /** Copies bytes [start, end) of the buffer (clamped to its size) into a new Buffer. */
  #copyRange(start: number, end: number): Buffer {
    end = Math.min(end, this.#size);
    const out = Buffer.allocUnsafe(Math.max(0, end - start));
    let pos = -this.#headOffset; // position of chunks[i][0] in buffer coordinates
    let written = 0;
    for (let i = this.#head; i < this.#chunks.length && written < out.length; i++) {
      const chunk = this.#chunks[i]!;
      const chunkEnd = pos + chunk.length;
      if (chunkEnd > start) {
        const from = Math.max(start, pos) - pos;
        const to = Math.min(end, chunkEnd) - pos;
        chunk.copy(out, written, from, to);
        written += to - from;
      }
      pos = chunkEnd;
    }
    return out;
  }

  /** Position of the first `sep` at or after `from`, or -1; finds separators split across chunks. */
  #indexOf(sep: Buffer, from: number): number {
    const chunks = this.#chunks;
    const seplen = sep.length;
    // A one-byte separator (a line's) is searched for as a number: Buffer#indexOf with a Buffer
    // sets up a general search in C++ (callgrind: ~800 instructions a call on a short chunk,
    // against ~140 for a byte, which is a memchr).
    const byte = seplen === 1 ? sep[0]! : -1;
    let pos = -this.#headOffset;
    for (let i = this.#head; i < chunks.length; i++) {
      const chunk = chunks[i]!;
      const chunkEnd = pos + chunk.length;
      if (chunkEnd > from) {
        const localStart = Math.max(from, pos + (i === this.#head ? this.#headOffset : 0)) - pos;
        const found = byte >= 0 ? chunk.indexOf(byte, localStart) : chunk.indexOf(sep, localStart);
        if (found !== -1) return pos + found;
        if (seplen > 1 && i + 1 < chunks.length) {
          // A separator starting in this chunk's last seplen-1 bytes and running on.
          const spanStart = Math.max(from, chunkEnd - seplen + 1);
          const window = this.#copyRange(spanStart, chunkEnd + seplen - 1);
          const inWindow = window.indexOf(sep);
          if (inWindow !== -1) return spanStart + inWindow;
        }
      }
      pos = chunkEnd;
    }
    return -1;
  }

  #startsWith(sep: Buffer, at: number): boolean {
    if (this.#size - at < sep.length) return false;
    return this.#copyRange(at, at + sep.length).equals(sep);
  }

  // ---- reads (each the body of asyncio's coroutine, without the waiting) --------------------

  #tryRead(n: number): Buffer | typeof NEED_DATA {
    if (this.#exception !== null) throw this.#exception;
    if (this.#size === 0) return this.#eof ? EMPTY : NEED_DATA;
    const data = this.#take(n < this.#size ? n : this.#size);
    this.#maybeResumeTransport();
    return data;
  }

  #tryReadExactly(n: number): Buffer | typeof NEED_DATA {
    if (this.#exception !== null) throw this.#exception;
    if (this.#size < n) {
      if (this.#eof) throw new IncompleteReadError(this.#takeAll(), n);
      return NEED_DATA;
    }
    const data = this.#take(n);
    this.#maybeResumeTransport();
    return data;
  }

  /**
   * `offset`: where the search starts, so waiting for a long line stays linear; when more data
   * is needed, where the next search starts is left in #nextOffset.
   */
  #tryReadUntil(sep: Buffer, offset: number): Buffer | typeof NEED_DATA {
    if (this.#exception !== null) throw this.#exception;
    const seplen = sep.length;
    const buflen = this.#size;
    let isep = -1;
    if (buflen - offset >= seplen) {
      isep = this.#indexOf(sep, offset);
      if (isep === -1) {
        // The last seplen-1 bytes may be the start of a separator: search them again next time.
        offset = buflen + 1 - seplen;
        if (offset > this.#limit) {
          throw new LimitOverrunError('Separator is not found, and chunk exceed the limit', offset);
        }
      }
    }
    if (isep === -1) {
      if (this.#eof) throw new IncompleteReadError(this.#takeAll(), null);
      this.#nextOffset = offset;
      return NEED_DATA;
    }
    if (isep > this.#limit) throw new LimitOverrunError('Separator is found, but chunk is longer than limit', isep);
    const data = this.#take(isep + seplen);
    this.#maybeResumeTransport();
    return data;
  }

  /** Until EOF: blocks move out of the buffer into `blocks` as they come (see read()). */
  #tryReadAll(blocks: Buffer[]): Buffer | typeof NEED_DATA {
    for (;;) {
      const block = this.#tryRead(this.#limit);
      if (block === NEED_DATA) return NEED_DATA;
      if (block.length === 0) {
        if (blocks.length === 1) return blocks[0]!;
        let total = 0;
        for (const b of blocks) total += b.length;
        return Buffer.concat(blocks, total);
      }
      blocks.push(block);
    }
  }

  #tryReadLine(offset: number): Buffer | typeof NEED_DATA {
    try {
      return this.#tryReadUntil(NEWLINE, offset);
    } catch (err) {
      if (err instanceof IncompleteReadError) return err.partial;
      if (err instanceof LimitOverrunError) {
        // asyncio's readline: drop the over-long line (through its newline if it is buffered).
        if (this.#startsWith(NEWLINE, err.consumed)) this.#skip(err.consumed + NEWLINE.length);
        else this.#skip(this.#size);
        this.#maybeResumeTransport();
      }
      throw err;
    }
  }

  /**
   * Up to `n` bytes; `n` < 0 (the default) reads until EOF. Resolves to an empty Buffer at EOF.
   */
  read(n = -1): Future<Buffer> {
    // Nothing buffered, nothing in the way: the read waits (a request/response server's every
    // read). Straight to the wait, without the general try that would find NEED_DATA. A read
    // handed its bytes (#handed) is out of the way once its task took them; tested here, not
    // by #settleHanded, which V8 does not inline into a handler that inlines this (~40
    // instructions a message in the streams echo servers). Everything else is in #readAny:
    // V8 inlines into one function only so much bytecode, and a handler that inlines this
    // whole then has room for its drain() too.
    if (Number.isInteger(n) && n > 0 && this.#size === 0 && this.#exception === null && !this.#eof) {
      const waiter = this.#slot.w;
      if (waiter === null || (this.#handed && (waiter._flags & UNCLAIMED_FLAG) === 0)) return this.#waitRead(n);
    }
    return this.#readAny(n);
  }

  #readAny(n: number): Future<Buffer> {
    // Number.isInteger is false for anything not a number.
    if (!Number.isInteger(n)) throw invalidArgType('n', 'an integer', n);
    if (n > 0) return this.#read('read', READ, n, null, null);
    if (n === 0) return this.#readNothing();
    // Until EOF. Blocks move out of the buffer as they come (as asyncio's loop of
    // read(limit) does), so reading never pauses while waiting for the end.
    return this.#read('read', READ_ALL, 0, null, []);
  }

  /** read(0) / readExactly(0): an empty Buffer, or the connection's error. Never waits. */
  #readNothing(): Future<Buffer> {
    const future = this.#getLoop().createFuture<Buffer>();
    if (this.#exception !== null) future.setException(this.#exception);
    else future.setResult(EMPTY);
    return future;
  }

  /**
   * Exactly `n` bytes. At EOF before that: `IncompleteReadError` whose `.partial` holds what was
   * left (the buffer is then empty).
   */
  readExactly(n: number): Future<Buffer> {
    validateCount(n, 'n', 0);
    if (n === 0) return this.#readNothing();
    return this.#read('readExactly', EXACTLY, n, null, null);
  }

  /**
   * Through the first `separator` (included). `LimitOverrunError` when no separator is within
   * `limit` bytes — the data stays buffered (`.consumed` tells how much to drop); at EOF without
   * a separator, `IncompleteReadError` with the rest (`.expected` null).
   */
  readUntil(separator: Uint8Array | string = NEWLINE): Future<Buffer> {
    return this.#read('readUntil', UNTIL, 0, toSeparator(separator), null);
  }

  /**
   * One line, with its `\n`; at EOF the last bytes without one, then an empty Buffer. A line
   * longer than `limit` is dropped and `LimitOverrunError` thrown (asyncio raises ValueError here).
   */
  readLine(): Future<Buffer> {
    return this.#read('readLine', LINE, 0, null, null);
  }

  /** Lines until EOF, as asyncio's `async for line in reader`. */
  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    // `next()` returns a Future (for-await awaits any thenable).
    const iterator = {
      next: (): Future<IteratorResult<Buffer>> => this.#read('readLine', LINE_ITER, 0, null, null),
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator as unknown as AsyncIterator<Buffer>;
  }

  get [Symbol.toStringTag](): string {
    const info = [`${this.#size} bytes`];
    if (this.#eof) info.push('eof');
    if (this.#limit !== DEFAULT_LIMIT) info.push(`limit=${this.#limit}`);
    if (this.#slot.w !== null && !this.#handed) info.push('waiting');
    if (this.#exception !== null) info.push(`exception=${this.#exception.name}`);
    if (this.#paused) info.push('paused');
    return `StreamReader ${info.join(' ')}`;
  }
}

// `yield* writer.drain()` with nothing to wait for (after every write of a generator coroutine):
// the settled drain's own iterator, one shared object done at once, instead of a FutureIter made
// per drain to find the future done and read its result.
const DRAINED_DONE: IteratorReturnResult<undefined> = Object.freeze({ value: undefined, done: true as const });
const DRAINED_ITERATOR: Iterator<never, undefined, unknown> = Object.freeze({
  next: (): IteratorReturnResult<undefined> => DRAINED_DONE,
  return: (value?: unknown): IteratorReturnResult<undefined> => ({ value: value as undefined, done: true }),
  throw: (err: unknown): never => {
    throw err;
  },
  [Symbol.iterator]() {
    return DRAINED_ITERATOR;
  },
});
function drainedIterator(): Iterator<never, undefined, unknown> {
  return DRAINED_ITERATOR;
}
// What the settled drain future has besides a done Future's (see settledFuture).
const DRAINED: PropertyDescriptorMap = {
  [Symbol.iterator]: { configurable: true, enumerable: false, writable: false, value: drainedIterator },
};

function connectionReset(): Error & { code: string } {
  return codedError(Error, 'ECONNRESET', 'Connection lost');
}

/**
 * asyncio's FlowControlMixin: remembers whether the transport asked to pause writing and lets any
 * number of writers wait in `drainHelper()` until it resumes. A connection lost while they wait
 * fails them with its error.
 */
export class FlowControlProtocol {
  protected readonly loop: EventLoop;
  #writePaused = false;
  #drainWaiters = new Set<Future<void>>();
  #lost = false;

  constructor(loop?: EventLoop) {
    this.loop = loop ?? getRunningLoop();
  }

  pauseWriting(): void {
    this.#writePaused = true;
  }

  resumeWriting(): void {
    this.#writePaused = false;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = new Set();
    for (const waiter of waiters) if (!waiter.done()) waiter.setResult(undefined);
  }

  connectionLost(err: Error | null): void {
    this.#lost = true;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = new Set();
    for (const waiter of waiters) {
      if (waiter.done()) continue;
      if (err === null) waiter.setResult(undefined);
      else waiter.setException(err);
    }
  }

  /** @internal True while writing may go on without waiting: not paused, and the connection not lost. */
  _mayWrite(): boolean {
    return !this.#writePaused && !this.#lost;
  }

  /** Settles `waiter` now, or once writing may go on. */
  drainHelper(waiter: Future<void>): void {
    if (waiter.done()) return;
    if (this.#lost) return waiter.setException(connectionReset());
    if (!this.#writePaused) return waiter.setResult(undefined);
    this.#drainWaiters.add(waiter);
    // A cancelled drainer leaves the set at once, not at the next resume.
    waiter.addDoneCallback(() => {
      this.#drainWaiters.delete(waiter);
    });
  }
}

export type ClientConnected = (reader: StreamReader, writer: StreamWriter) => unknown;

/** The protocol between a transport and a StreamReader (and, for servers, the client callback). */
export class StreamReaderProtocol extends FlowControlProtocol {
  #reader: StreamReader | null;
  #writer: StreamWriter | null = null;
  #transport: Transport | null = null;
  #clientConnected: ClientConnected | null;
  #task: Future<unknown> | null = null;
  #closed = false;
  #closeError: Error | null = null;
  #closeWaiters: Array<Future<void>> = [];
  #drained: Future<void> | null = null;

  constructor(reader: StreamReader | null, clientConnected: ClientConnected | null = null, loop?: EventLoop) {
    super(loop);
    this.#reader = reader;
    this.#clientConnected = clientConnected;
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    const reader = this.#reader;
    if (reader !== null) reader.setTransport(transport);
    const onClient = this.#clientConnected;
    if (onClient === null) return;
    const writer = new StreamWriter(transport, this, reader, this.loop);
    this.#writer = writer;
    // An async handler starts here, before its task exists: the promise hooks must be on for
    // its continuations to carry the frame the task takes over (cancel reaches its awaits).
    retainFrames();
    let result: unknown;
    try {
      result = onClient(reader!, writer);
    } finally {
      releaseFrames();
    }
    // Futures are not coroutines (asyncio does not wrap them either).
    if (result instanceof Future || (!isGenerator(result) && !isThenable(result))) return;
    // A coroutine: run it as a task; if it fails, report it and close the connection.
    const task = this.loop.createTask(result as never) as Future<unknown>;
    this.#task = task;
    task.addDoneCallback(() => {
      if (task.cancelled()) {
        transport.close();
        return;
      }
      const exc = task.exception();
      if (exc !== null && exc !== undefined) {
        const peer = transport.getExtraInfo('peername') as SocketAddress | undefined;
        this.loop.callExceptionHandler({ message: 'client handler failed', exception: exc, transport, key: peer === undefined ? undefined : formatAddress(peer) });
        transport.close();
      }
    });
  }

  override connectionLost(err: Error | null): void {
    const reader = this.#reader;
    if (reader !== null) {
      if (err === null) reader.feedEof();
      else reader.setException(err);
    }
    if (!this.#closed) {
      this.#closed = true;
      this.#closeError = err;
      const waiters = this.#closeWaiters;
      this.#closeWaiters = [];
      for (const waiter of waiters) this.#settleClosed(waiter);
    }
    super.connectionLost(err);
    this.#reader = null;
    this.#writer = null;
    this.#task = null;
    this.#transport = null;
  }

  dataReceived(data: Buffer): void {
    this.#reader?.feedData(data);
  }

  eofReceived(): boolean {
    this.#reader?.feedEof();
    // Keep the transport open for writing: the other side only half-closed.
    return true;
  }

  #settleClosed(waiter: Future<void>): void {
    if (waiter.done()) return;
    if (this.#closeError === null) waiter.setResult(undefined);
    else waiter.setException(this.#closeError);
  }

  /** A new Future settled when the connection is lost (each caller gets its own, so cancelling one cancels only that wait). */
  closeWaiter(): Future<void> {
    const waiter = this.loop.createFuture<void>();
    if (this.#closed) this.#settleClosed(waiter);
    else this.#closeWaiters.push(waiter);
    return waiter;
  }

  #makeDrained(): Future<void> {
    return settledFuture(this.loop, DRAINED);
  }

  /** The client task of a server connection, when `onClient` returned a coroutine. */
  get task(): Future<unknown> | null {
    return this.#task;
  }

  get writer(): StreamWriter | null {
    return this.#writer;
  }

  get transport(): Transport | null {
    return this.#transport;
  }

  drain(reader: StreamReader | null): Future<void> {
    // The usual case kept small enough to be inlined into the coroutine's drain() (as one
    // function with the waiting cases it was a call per write).
    const drained = this.#drained;
    if (drained !== null && this._mayWrite() && (reader === null || reader.exception() === null)) {
      const transport = this.#transport;
      if (transport === null || !transport.isClosing()) return drained;
    }
    return this.#drainSlow(reader);
  }

  #drainSlow(reader: StreamReader | null): Future<void> {
    const exc = reader === null ? null : reader.exception();
    const transport = this.#transport;
    if (exc === null && this._mayWrite() && (transport === null || !transport.isClosing())) {
      // Nothing to wait for (a drain after each write, the usual case): one settled Future
      // per connection, handed to every such drain.
      return (this.#drained ??= this.#makeDrained());
    }
    const waiter = this.loop.createFuture<void>();
    if (exc !== null) {
      waiter.setException(exc);
      return waiter;
    }
    if (transport !== null && transport.isClosing()) {
      // As asyncio: yield once so connectionLost can run and drain reports it, rather than a
      // write/drain loop spinning on a closing transport without ever seeing the error.
      this.loop.callSoon(() => this.drainHelper(waiter));
      return waiter;
    }
    this.drainHelper(waiter);
    return waiter;
  }
}

/** The writing half of a stream connection: a thin layer over the transport plus `drain()`. */
export class StreamWriter {
  readonly #transport: Transport;
  readonly #protocol: StreamReaderProtocol;
  readonly #reader: StreamReader | null;
  readonly #loop: EventLoop;

  constructor(transport: Transport, protocol: StreamReaderProtocol, reader: StreamReader | null, loop?: EventLoop) {
    this.#transport = transport;
    this.#protocol = protocol;
    this.#reader = reader;
    this.#loop = loop ?? getRunningLoop();
  }

  get transport(): Transport {
    return this.#transport;
  }

  getLoop(): EventLoop {
    return this.#loop;
  }

  write(data: Uint8Array): void {
    // As asyncio: the transport checks `data` (each of evloop's throws the same TypeError).
    this.#transport.write(data);
  }

  writelines(list: Iterable<Uint8Array>): void {
    if (list === null || typeof (list as Iterable<Uint8Array>)?.[Symbol.iterator] !== 'function') {
      throw invalidArgType('list', 'an iterable of Buffer or Uint8Array', list);
    }
    const items = Array.from(list);
    items.forEach((item, i) => validateBytes(item, `list[${i}]`));
    this.#transport.writelines(items);
  }

  writeEof(): void {
    this.#transport.writeEof();
  }

  canWriteEof(): boolean {
    return this.#transport.canWriteEof();
  }

  close(): void {
    this.#transport.close();
  }

  isClosing(): boolean {
    return this.#transport.isClosing();
  }

  /** Resolves once the connection is closed; fails with the error that broke it, if one did. */
  waitClosed(): Future<void> {
    return this.#protocol.closeWaiter();
  }

  getExtraInfo(name: 'peername' | 'sockname'): SocketAddress | undefined;
  getExtraInfo(name: string, fallback?: unknown): unknown;
  getExtraInfo(name: string, fallback?: unknown): unknown {
    return this.#transport.getExtraInfo(name, fallback);
  }

  /**
   * Waits while the transport's write buffer is over its high-water mark. Fails with the
   * reader's error, or the connection's, when the connection broke.
   */
  drain(): Future<void> {
    return this.#protocol.drain(this.#reader);
  }

  get [Symbol.toStringTag](): string {
    return `StreamWriter ${String(this.#transport)}`;
  }
}

export interface StreamOptions {
  /** The StreamReader's limit (default 64 KiB). */
  limit?: number;
}

function splitLimit<O extends StreamOptions>(opts: O | undefined): [number | undefined, Omit<O, 'limit'>] {
  if (opts === undefined) return [undefined, {} as Omit<O, 'limit'>];
  if (opts === null || typeof opts !== 'object') throw invalidArgType('options', 'of type object', opts);
  const { limit, ...rest } = opts;
  validateLimit(limit);
  return [limit, rest];
}

function openWith(
  connect: (loop: EventLoop, factory: () => StreamReaderProtocol) => Future<[unknown, unknown]> | PromiseLike<unknown>,
  limit: number | undefined,
): Future<[StreamReader, StreamWriter]> {
  const loop = getRunningLoop();
  const reader = new StreamReader({ limit, loop });
  const protocol = new StreamReaderProtocol(reader, null, loop);
  const connecting = connect(loop, () => protocol) as Future<[Transport, unknown]>;
  const result = loop.createFuture<[StreamReader, StreamWriter]>();
  connecting.addDoneCallback(() => {
    if (result.done()) {
      // Cancelled after the connection was made: nobody will ever own it, so close it.
      if (!connecting.cancelled() && connecting.exception() == null) connecting.result()[0].abort();
      return;
    }
    if (connecting.cancelled()) return void result.cancel();
    const exc = connecting.exception();
    if (exc !== null && exc !== undefined) return result.setException(exc);
    const [transport] = connecting.result();
    result.setResult([reader, new StreamWriter(transport, protocol, reader, loop)]);
  });
  // Cancelling the open cancels the connect (which closes the half-made socket).
  result.addDoneCallback(() => {
    if (result.cancelled() && !connecting.done()) connecting.cancel();
  });
  return result;
}

// `{ sock }` (asyncio's `sock=`) may stand where the address goes: `openConnection({ sock })`.
function sockFirst(address: unknown): boolean {
  return address !== null && typeof address === 'object' && !Array.isArray(address) && 'sock' in address;
}

/**
 * asyncio's open_connection: a connected `[reader, writer]` pair. Options: `limit` and
 * createConnection's; `openConnection({ sock, limit? })` wraps a connected Socket.
 */
export function openConnection(host: string, port: number, opts?: StreamOptions & ConnectionOptions): Future<[StreamReader, StreamWriter]>;
export function openConnection(opts: StreamOptions & ConnectionOptions & { sock: Socket }): Future<[StreamReader, StreamWriter]>;
export function openConnection(host: unknown, port?: unknown, opts?: StreamOptions & ConnectionOptions): Future<[StreamReader, StreamWriter]> {
  if (sockFirst(host)) [host, port, opts] = [undefined, undefined, host as StreamOptions & ConnectionOptions];
  const [limit, rest] = splitLimit(opts);
  return openWith((loop, factory) => createConnection(loop as never, factory, host as string, port as number, rest) as never, limit);
}

/** asyncio's open_unix_connection; `openUnixConnection({ sock, limit? })` wraps a connected Unix Socket. */
export function openUnixConnection(path: string, opts?: StreamOptions): Future<[StreamReader, StreamWriter]>;
export function openUnixConnection(opts: StreamOptions & { sock: Socket }): Future<[StreamReader, StreamWriter]>;
export function openUnixConnection(path: unknown, opts?: StreamOptions & { sock?: Socket }): Future<[StreamReader, StreamWriter]> {
  if (sockFirst(path)) [path, opts] = [undefined, path as StreamOptions];
  const [limit, rest] = splitLimit(opts);
  return openWith((loop, factory) => createUnixConnection(loop as never, factory, path as string, rest as never) as never, limit);
}

function serverFactory(onClient: ClientConnected, limit: number | undefined, loop: EventLoop): () => StreamReaderProtocol {
  validateFunction(onClient, 'onClient');
  return () => new StreamReaderProtocol(new StreamReader({ limit, loop }), onClient, loop);
}

/**
 * asyncio's start_server: `onClient(reader, writer)` runs for each connection; when it returns a
 * coroutine (an async function's promise or a generator) that runs as a Task.
 * `startServer(onClient, { sock, ... })` serves on a bound Socket.
 */
export function startServer(onClient: ClientConnected, host: string | string[] | null | undefined, port: number, opts?: StreamOptions & ServerOptions): Future<Server>;
export function startServer(onClient: ClientConnected, opts: StreamOptions & ServerOptions & { sock: Socket }): Future<Server>;
export function startServer(onClient: ClientConnected, host: unknown, port?: unknown, opts?: StreamOptions & ServerOptions): Future<Server> {
  if (sockFirst(host)) [host, port, opts] = [undefined, undefined, host as StreamOptions & ServerOptions];
  const [limit, rest] = splitLimit(opts);
  const loop = getRunningLoop();
  return createServer(loop as never, serverFactory(onClient, limit, loop), host as string, port as number, rest) as unknown as Future<Server>;
}

/** asyncio's start_unix_server; `startUnixServer(onClient, { sock, ... })` serves on a bound Unix Socket. */
export function startUnixServer(onClient: ClientConnected, path: string, opts?: StreamOptions & UnixServerOptions): Future<Server>;
export function startUnixServer(onClient: ClientConnected, opts: StreamOptions & UnixServerOptions & { sock: Socket }): Future<Server>;
export function startUnixServer(onClient: ClientConnected, path: unknown, opts?: StreamOptions & UnixServerOptions): Future<Server> {
  if (sockFirst(path)) [path, opts] = [undefined, path as StreamOptions & UnixServerOptions];
  const [limit, rest] = splitLimit(opts);
  const loop = getRunningLoop();
  return createUnixServer(loop as never, serverFactory(onClient, limit, loop), path as string, rest) as unknown as Future<Server>;
}

// The stream transport over a non-blocking TCP or Unix socket: asyncio's
// _SelectorSocketTransport, shaped for V8. Reading is the poller's: the fd is an auto-reader, so
// the native batch has already read it into the loop's slab and the transport only hands the view
// on; per message the hot path is then one send through the binding, with no closure, promise or
// exception on the way. Readiness arrives once per batch through the loop's reader/writer handles.
import { Buffer } from 'node:buffer'; // not the global: that is an accessor in Node 20 (see streams.ts)
import { MAX_READ, MIN_READ, READ_WOULD_BLOCK, SLAB_SIZE, binding, type SocketAddress } from '../native/binding';
import { BufferView } from '../native/buffer-view';
import { isBufferedProtocol, type BufferedProtocolLike, type ProtocolLike } from './protocols';
import type { FutureLike, IoLoop, Transport, WriteBufferLimits } from './transport-types';
import type { PassFrame } from '../core/handles';
import { codedError, invalidArgType, outOfRange } from '../util/validate';
import { clearSlots } from '../util/clear-slots';

const DEFAULT_HIGH_WATER = 64 * 1024;

// Reads the transports do themselves (pipes; a socket when the poller's slab had no room left)
// land in a shared slab and are handed to the protocol as views of it. A view is never written
// again (the slab only moves forward), so a protocol may keep `data` without copying; a new slab
// is taken when the space left would make a bulk read short.
let slab = Buffer.allocUnsafe(SLAB_SIZE);
let slabBytes = slab.buffer as ArrayBuffer; // kept: `buffer` is a getter V8 runs in C++
let slabUsed = 0;

function newSlab(): void {
  slab = Buffer.allocUnsafe(SLAB_SIZE);
  slabBytes = slab.buffer as ArrayBuffer;
  slabUsed = 0;
}

// A view of the slab's [at, at + n), made without subarray's per-call lookups (see BufferView).
function slabView(at: number, n: number): Buffer {
  return new BufferView(slabBytes, slab.byteOffset + at, n);
}

/**
 * One read of `fd` into the shared slab (pipes share it with the sockets): the bytes as a view
 * that is never written again, 0 at EOF, -1 when it would block. `read` is the binding call.
 */
export function slabRead(read: (fd: number, buf: Uint8Array, offset: number, length: number) => number, fd: number): Buffer | 0 | -1 {
  let room = SLAB_SIZE - slabUsed;
  if (room < MIN_READ) {
    newSlab();
    room = SLAB_SIZE;
  }
  const n = read(fd, slab, slabUsed, room < MAX_READ ? room : MAX_READ);
  if (n <= 0) return n as 0 | -1;
  const data = slabView(slabUsed, n);
  slabUsed += n;
  return data;
}

/** Checks write-buffer limits and fills in the missing one as asyncio does: [high, low]. */
export function resolveWriteBufferLimits(limits: WriteBufferLimits = {}): [high: number, low: number] {
  let { high, low } = limits;
  if (high !== undefined && (typeof high !== 'number' || !(high >= 0))) throw outOfRange('high', '>= 0', high);
  if (low !== undefined && (typeof low !== 'number' || !(low >= 0))) throw outOfRange('low', '>= 0', low);
  if (high === undefined) high = low === undefined ? DEFAULT_HIGH_WATER : 4 * low;
  if (low === undefined) low = Math.floor(high / 4);
  if (low > high) throw outOfRange('low', `<= high (${high})`, low);
  return [high, low];
}

/** Errors that mean "the peer went away": reported to the protocol, not to the exception handler. */
const CONNECTION_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'ETIMEDOUT', 'ENOTCONN', 'ESHUTDOWN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);

export function isConnectionError(err: unknown): boolean {
  return CONNECTION_ERRORS.has((err as { code?: string } | null)?.code ?? '');
}

/**
 * Takes a transport's fd off the loop and closes it; the transport stops counting as open on
 * the loop. The last step of every transport's life (stream and datagram alike).
 */
export function releaseFd(loop: IoLoop, fd: number, transport: { _closeForLoop(): void }): void {
  loop.removeReader(fd);
  loop.removeWriter(fd);
  loop._forgetSendSink(fd);
  binding.close(fd);
  loop._untrackResource(transport);
}

export interface TransportOwner {
  /** Told once, after `connectionLost` has run, so a server can count live connections. */
  connectionClosed(transport: SocketTransport): void;
}

export type StreamProtocol = ProtocolLike | BufferedProtocolLike;

export function validateBytes(data: unknown, name = 'data'): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) throw invalidArgType(name, 'an instance of Buffer or Uint8Array', data);
}

export class SocketTransport implements Transport {
  readonly #loop: IoLoop;
  #fd: number;
  #protocol: StreamProtocol;
  #buffered: boolean;
  readonly #owner: TransportOwner | null;
  readonly #readReady = (): void => this.#onReadable();
  readonly #writeReady = (): void => this.#onWritable();
  // What the poller read for this transport and the protocol has not seen yet, in order: views,
  // 0 (EOF), -errno. Usually one entry between the batch and the reader's handle; more only
  // while reading is paused with reads undelivered. The first #pendingCount slots hold them and
  // the rest are empty: the array keeps its capacity, as `length = 0` once per read was a call
  // into V8's runtime that also freed the backing store the next read then grew again.
  readonly #pending: Array<Buffer | number | undefined> = [];
  #pendingCount = 0;
  // The poller's latest read for us while it is still the loop's (loop._batchView(#readIndex),
  // -1: none), always after the #pending entries: the view is not stored here unless it waits.
  #readIndex = -1;
  // What _readNow tests per message, kept in one field (see #syncDirect): nothing waits
  // (#pendingCount 0, #readIndex -1), reading, not closing, not buffered.
  #direct = true;
  readonly #drainReady = (): void => {
    if (!this.#connectionLost && this.#reading && !this.#closing) this.#drainPending();
  };

  #closing = false;
  #connectionLost = false;
  #eof = false; // writeEof() was called
  #eofReceived = false; // the peer's EOF was read: reading never resumes
  #reading = true;
  #writeQueue: Uint8Array[] = [];
  #writeQueued = 0;
  #high = DEFAULT_HIGH_WATER;
  #low = DEFAULT_HIGH_WATER / 4;
  #protocolPaused = false;
  // The loop's send generation when this transport last queued bytes in the pass's send batch
  // (loop._queueSend), and how many: while the generation matches, they are not sent yet.
  #sendGen = -1;
  #sendBatched = 0;
  readonly #isUnix: boolean;
  #peername: SocketAddress | undefined;
  #sockname: SocketAddress | undefined;

  constructor(loop: IoLoop, fd: number, protocol: StreamProtocol, options: { owner?: TransportOwner | null; waiter?: FutureLike<void> | null; unix?: boolean } = {}) {
    this.#loop = loop;
    this.#fd = fd;
    this.#protocol = protocol;
    this.#buffered = isBufferedProtocol(protocol);
    this.#direct = !this.#buffered;
    this.#owner = options.owner ?? null;
    this.#isUnix = options.unix === true;
    loop._trackResource(this);
    loop._setSendSink(fd, this);
    // asyncio's order: connectionMade first, then reading starts, then the waiter (whoever
    // awaits createConnection) learns that connectionMade has run.
    loop.callSoon(() => this.#start(options.waiter ?? null));
  }

  #start(waiter: FutureLike<void> | null): void {
    if (this.#connectionLost) {
      if (waiter !== null && !waiter.done()) waiter.setException(codedError(Error, 'ECONNABORTED', 'The connection was closed before it was made'));
      return;
    }
    try {
      this.#protocol.connectionMade?.(this as never);
    } catch (err) {
      if (waiter !== null && !waiter.done()) waiter.setException(err);
      this.#fatalError(err, 'Fatal error: protocol.connectionMade() call failed.');
      return;
    }
    if (this.#reading && !this.#closing) this.#addReader();
    if (waiter !== null && !waiter.done()) waiter.setResult(undefined);
  }

  // ---- reading -------------------------------------------------------------------------------

  // A buffered protocol reads into its own buffer, so only a plain one is an auto-reader.
  #addReader(): void {
    if (this.#buffered) this.#loop.addReader(this.#fd, this.#readReady);
    else this.#loop._addAutoReader(this.#fd, this.#readReady, this);
  }

  /** @internal The poller read this transport's fd during the batch (see loop._addAutoReader). */
  _autoRead(result: Buffer | number): void {
    if (this.#readIndex >= 0) this.#keepRead();
    this.#pending[this.#pendingCount++] = result;
    this.#direct = false;
  }

  /** @internal As _autoRead, for a view the loop keeps for the pass (see AutoReadSink). */
  _autoReadAt(index: number): void {
    if (this.#readIndex >= 0) this.#keepRead();
    this.#readIndex = index;
    this.#direct = false;
  }

  /**
   * @internal The pass of a batch hands the poller's read for us over here, where our queued
   * `_run` would have run (see loop._walkBatch), with the same checks.
   */
  _readNow(data: Buffer, pass: PassFrame): void {
    if (this.#direct === true) {
      pass._enterPassFrame();
      try {
        (this.#protocol as ProtocolLike).dataReceived?.(data);
      } catch (err) {
        this.#fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
      }
      return;
    }
    this.#readLater(data, pass);
  }

  // As #runQueued: dropped once closing, else after what waits, delivered now while reading.
  #readLater(data: Buffer, pass: PassFrame): void {
    if (this.#connectionLost || this.#closing) {
      this.#readIndex = -1;
      return;
    }
    if (this.#readIndex >= 0) this.#keepRead();
    this.#pending[this.#pendingCount++] = data;
    this.#direct = false;
    if (!this.#reading) return;
    pass._enterPassFrame();
    this.#drainPending();
  }

  // The loop's read goes to the end of #pending: it is not delivered in the pass that read it
  // (reading paused, or older reads ahead of it).
  #keepRead(): void {
    this.#pending[this.#pendingCount++] = this.#loop._batchView(this.#readIndex);
    this.#readIndex = -1;
    this.#direct = false;
  }

  // Recomputes #direct after a change to what it sums up; called wherever one of its fields
  // changes in a way that may make it true again (making it false is written out).
  #syncDirect(): void {
    this.#direct = this.#pendingCount === 0 && this.#readIndex < 0 && this.#reading && !this.#closing && !this.#buffered;
  }

  /**
   * @internal The pass after a batch that read for us runs this (the loop queues the transport
   * itself, not the reader's handle: one call less per message). It does what the cancelled
   * handle would have skipped: nothing once reading stopped (paused, closing, lost), and the
   * reads wait for resumeReading.
   */
  _run(pass?: PassFrame): void {
    const index = this.#readIndex;
    // `=== true`: a truthiness test of a field V8 does not know to hold a boolean takes ~10
    // instructions more when it is true (a false one is found at the first compare). A lost
    // connection is closing too (#lose follows #closing), so one test covers both.
    if (index >= 0 && this.#pendingCount === 0 && this.#reading === true && !this.#closing && !this.#buffered) {
      // The usual case: one read, nothing ahead of it.
      this.#readIndex = -1;
      this.#direct = true;
      if (pass !== undefined) pass._enterPassFrame();
      const data = this.#loop._batchView(index);
      try {
        (this.#protocol as ProtocolLike).dataReceived?.(data);
      } catch (err) {
        this.#fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
      }
      return;
    }
    // Apart, so that what the loop's runner inlines of _run stays small (V8 has a budget for
    // the code it inlines into one function).
    this.#runQueued(pass);
  }

  #runQueued(pass: PassFrame | undefined): void {
    if (this.#readIndex >= 0) {
      if (this.#connectionLost || this.#closing) this.#readIndex = -1;
      else this.#keepRead();
      this.#syncDirect();
    }
    if (this.#pendingCount === 0 || this.#connectionLost || !this.#reading || this.#closing) return;
    if (pass !== undefined) pass._enterPassFrame();
    this.#drainPending();
  }

  #drainPending(): void {
    const pending = this.#pending;
    let i = 0;
    while (i < this.#pendingCount) {
      const result = pending[i]!;
      pending[i++] = undefined;
      if (typeof result !== 'number') this.#deliver(result);
      else if (result === 0) this.#readEof();
      else this.#fatalError(binding.errnoError(result, 'read'), 'Fatal read error on socket transport');
      // The protocol may have paused or closed us: what is left waits for resumeReading (or,
      // after close, is dropped).
      if (this.#connectionLost || this.#closing || !this.#reading) break;
    }
    const count = this.#pendingCount;
    if (i >= count) this.#pendingCount = 0;
    else if (this.#closing) this.#dropPending();
    else {
      // Paused with reads left: they move to the front, in order, for resumeReading.
      pending.copyWithin(0, i, count);
      clearSlots(pending, count - i, count);
      this.#pendingCount = count - i;
    }
    this.#syncDirect();
  }

  #dropPending(): void {
    clearSlots(this.#pending, 0, this.#pendingCount);
    this.#pendingCount = 0;
    this.#readIndex = -1;
    this.#syncDirect();
  }

  #deliver(data: Buffer): void {
    if (!this.#buffered) {
      try {
        (this.#protocol as ProtocolLike).dataReceived?.(data);
      } catch (err) {
        this.#fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
      }
      return;
    }
    // setProtocol() swapped in a buffered protocol after the poller had read for the old one.
    const protocol = this.#protocol as BufferedProtocolLike;
    let at = 0;
    while (at < data.length && !this.#connectionLost) {
      try {
        const buf = protocol.getBuffer(data.length - at);
        if (!(buf instanceof Uint8Array) || buf.length === 0) {
          throw codedError(TypeError, 'ERR_INVALID_RETURN_VALUE', 'getBuffer() returned an empty or non-byte buffer');
        }
        const n = data.copy(buf, 0, at);
        at += n;
        protocol.bufferUpdated(n);
      } catch (err) {
        return this.#fatalError(err, 'Fatal error: protocol.bufferUpdated() call failed.');
      }
    }
  }

  #onReadable(): void {
    if (this.#connectionLost) return;
    if (this.#readIndex >= 0) this.#keepRead();
    if (this.#pendingCount !== 0) return this.#drainPending();
    if (this.#buffered) return this.#readIntoProtocolBuffer();
    let room = SLAB_SIZE - slabUsed;
    if (room < MIN_READ) {
      newSlab();
      room = SLAB_SIZE;
    }
    let n: number;
    try {
      n = binding.recv(this.#fd, slab, slabUsed, room < MAX_READ ? room : MAX_READ);
    } catch (err) {
      return this.#fatalError(err, 'Fatal read error on socket transport');
    }
    if (n > 0) {
      const data = slabView(slabUsed, n);
      slabUsed += n;
      try {
        (this.#protocol as ProtocolLike).dataReceived?.(data);
      } catch (err) {
        this.#fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
      }
    } else if (n === 0) {
      this.#readEof();
    }
    // n < 0: spurious wake-up (would block); level-triggered polling reports the fd again.
  }

  #readIntoProtocolBuffer(): void {
    const protocol = this.#protocol as BufferedProtocolLike;
    let buf: Uint8Array;
    try {
      buf = protocol.getBuffer(-1);
      if (!(buf instanceof Uint8Array) || buf.length === 0) {
        throw codedError(TypeError, 'ERR_INVALID_RETURN_VALUE', 'getBuffer() returned an empty or non-byte buffer');
      }
    } catch (err) {
      return this.#fatalError(err, 'Fatal error: protocol.getBuffer() call failed.');
    }
    let n: number;
    try {
      n = binding.recv(this.#fd, buf, 0, buf.length);
    } catch (err) {
      return this.#fatalError(err, 'Fatal read error on socket transport');
    }
    if (n > 0) {
      try {
        protocol.bufferUpdated(n);
      } catch (err) {
        this.#fatalError(err, 'Fatal error: protocol.bufferUpdated() call failed.');
      }
    } else if (n === 0) {
      this.#readEof();
    }
  }

  #readEof(): void {
    this.#eofReceived = true;
    if (this.#reading) {
      this.#reading = false;
      this.#direct = false;
      this.#loop.removeReader(this.#fd);
    }
    let keepOpen: unknown;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (err) {
      return this.#fatalError(err, 'Fatal error: protocol.eofReceived() call failed.');
    }
    if (!keepOpen) this.close();
  }

  pauseReading(): void {
    if (this.#closing || !this.#reading) return;
    this.#reading = false;
    this.#direct = false;
    this.#loop.removeReader(this.#fd);
  }

  resumeReading(): void {
    if (this.#closing || this.#reading || this.#eofReceived) return;
    this.#reading = true;
    this.#syncDirect();
    this.#addReader();
    // Read before the pause and not delivered: first, in the next pass (not from inside the
    // caller, which may be the protocol itself).
    if (this.#pendingCount !== 0) this.#loop.callSoon(this.#drainReady);
  }

  isReading(): boolean {
    return this.#reading && !this.#closing;
  }

  // ---- writing -------------------------------------------------------------------------------

  write(data: Uint8Array): void {
    validateBytes(data);
    if (this.#eof) throw codedError(Error, 'ERR_STREAM_WRITE_AFTER_END', 'Cannot call write() after writeEof()');
    const length = data.length;
    if (this.#connectionLost || length === 0) return;
    if (this.#writeQueued === 0) {
      // The common case in a pass: a small write joins the pass's send batch (one native call
      // for every connection's writes when the pass ends); a short send comes back to
      // _sendResult and is queued then.
      const loop = this.#loop;
      const pending = this.#sendGen === loop._sendGen;
      // `| 0`: the field holds small integers, but V8 does not track it as one, and an int32
      // is what the batch's entry stores (~8 instructions a write otherwise).
      if (loop._queueSend(this.#fd | 0, data, length, pending)) {
        this.#sendBatched = (pending ? this.#sendBatched : 0) + length;
        this.#sendGen = loop._sendGen;
        return;
      }
      // (Not narrowed by TypeScript: the flush of our earlier bytes can queue a short send.)
      if ((this.#writeQueued as number) !== 0) {
        // The flush of our earlier bytes came back short: these wait behind them.
        this.#writeQueue.push(Buffer.from(data));
        this.#writeQueued += data.length;
        this.#maybePauseProtocol();
        return;
      }
      // Otherwise the kernel takes it all now, nothing is queued.
      let sent: number;
      try {
        sent = binding.send(this.#fd, data, 0, data.length);
      } catch (err) {
        return this.#fatalError(err, 'Fatal write error on socket transport');
      }
      if (sent === data.length) return;
      if (sent > 0) data = data.subarray(sent);
      this.#loop.addWriter(this.#fd, this.#writeReady);
    }
    // What waits is copied, as asyncio does: the caller may reuse its buffer once write() returns.
    this.#writeQueue.push(Buffer.from(data));
    this.#writeQueued += data.length;
    this.#maybePauseProtocol();
  }

  writelines(list: Iterable<Uint8Array>): void {
    const chunks = Array.isArray(list) ? (list as Uint8Array[]) : [...list];
    this.#flushBatched();
    if (chunks.length < 2 || this.#writeQueued > 0 || this.#eof || this.#connectionLost) {
      for (const data of chunks) this.write(data);
      return;
    }
    for (const data of chunks) validateBytes(data);
    // Nothing queued: the whole list in one writev (TLS hands its records down this way).
    let sent: number;
    try {
      sent = binding.writev(this.#fd, chunks);
    } catch (err) {
      return this.#fatalError(err, 'Fatal write error on socket transport');
    }
    let skip = sent > 0 ? sent : 0;
    for (const data of chunks) {
      if (skip >= data.length) {
        skip -= data.length;
        continue;
      }
      const rest = skip > 0 ? data.subarray(skip) : data;
      skip = 0;
      if (this.#writeQueued === 0) this.#loop.addWriter(this.#fd, this.#writeReady);
      this.#writeQueue.push(Buffer.from(rest));
      this.#writeQueued += rest.length;
    }
    this.#maybePauseProtocol();
  }

  #onWritable(): void {
    if (this.#connectionLost || this.#writeQueued === 0) return;
    const queue = this.#writeQueue;
    let sent: number;
    try {
      sent = queue.length === 1 ? binding.send(this.#fd, queue[0]!, 0, queue[0]!.length) : binding.writev(this.#fd, queue);
    } catch (err) {
      return this.#fatalError(err, 'Fatal write error on socket transport');
    }
    if (sent <= 0) return;
    this.#consume(sent);
    this.#maybeResumeProtocol();
    if (this.#writeQueued > 0) return;
    this.#loop.removeWriter(this.#fd);
    if (this.#closing) {
      this.#lose(null);
    } else if (this.#eof) {
      this.#shutdownWrite();
    }
  }

  /** @internal A send of the loop's batch did not go whole (see loop._queueSend). */
  _sendResult(result: number, bytes: Buffer): void {
    if (this.#connectionLost) return; // aborted meanwhile: what was buffered is dropped
    if (result < 0 && result !== READ_WOULD_BLOCK) {
      return this.#fatalError(binding.errnoError(result, 'send'), 'Fatal write error on socket transport');
    }
    // The rest is copied: the batch's buffer is reused. Nothing of ours is queued yet (a
    // transport with a write queue does not batch), so it goes first.
    const rest = Buffer.from(bytes.subarray(result > 0 ? result : 0));
    if (this.#writeQueued === 0) this.#loop.addWriter(this.#fd, this.#writeReady);
    this.#writeQueue.push(rest);
    this.#writeQueued += rest.length;
    this.#maybePauseProtocol();
  }

  // Bytes of ours still in the loop's send batch go out before anything that must follow them.
  #flushBatched(): void {
    if (this.#sendGen === this.#loop._sendGen) this.#loop._flushSends();
  }

  #consume(sent: number): void {
    const queue = this.#writeQueue;
    this.#writeQueued -= sent;
    let i = 0;
    while (i < queue.length && sent >= queue[i]!.length) sent -= queue[i++]!.length;
    if (sent > 0) queue[i] = queue[i]!.subarray(sent);
    if (i > 0) queue.splice(0, i);
  }

  #maybePauseProtocol(): void {
    if (this.#protocolPaused || this.#writeQueued <= this.#high) return;
    this.#protocolPaused = true;
    try {
      this.#protocol.pauseWriting?.();
    } catch (err) {
      this.#loop.callExceptionHandler({ message: 'protocol.pauseWriting() failed', exception: err, transport: this, protocol: this.#protocol });
    }
  }

  #maybeResumeProtocol(): void {
    if (!this.#protocolPaused || this.#writeQueued > this.#low) return;
    this.#protocolPaused = false;
    try {
      this.#protocol.resumeWriting?.();
    } catch (err) {
      this.#loop.callExceptionHandler({ message: 'protocol.resumeWriting() failed', exception: err, transport: this, protocol: this.#protocol });
    }
  }

  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    [this.#high, this.#low] = resolveWriteBufferLimits(limits);
    this.#maybePauseProtocol();
  }

  getWriteBufferLimits(): [number, number] {
    return [this.#low, this.#high];
  }

  getWriteBufferSize(): number {
    return this.#writeQueued + (this.#sendGen === this.#loop._sendGen ? this.#sendBatched : 0);
  }

  writeEof(): void {
    if (this.#closing || this.#eof) return;
    this.#flushBatched();
    this.#eof = true;
    if (this.#writeQueued === 0) this.#shutdownWrite();
  }

  canWriteEof(): boolean {
    return true;
  }

  #shutdownWrite(): void {
    try {
      binding.shutdown(this.#fd, 1);
    } catch (err) {
      // A peer that already vanished: the read side reports it.
      if (!isConnectionError(err)) this.#fatalError(err, 'Fatal error on shutdown');
    }
  }

  // ---- closing -------------------------------------------------------------------------------

  isClosing(): boolean {
    return this.#closing;
  }

  close(): void {
    if (this.#closing) return;
    // What is still in the send batch must be sent (or queued, if it goes short) before closing.
    this.#flushBatched();
    this.#closing = true;
    this.#direct = false;
    this.#dropPending();
    if (this.#reading) this.#loop.removeReader(this.#fd);
    if (this.#writeQueued === 0) this.#lose(null);
  }

  abort(): void {
    this.#forceClose(null);
  }

  #fatalError(err: unknown, message: string): void {
    if (!isConnectionError(err)) {
      this.#loop.callExceptionHandler({ message, exception: err, transport: this, protocol: this.#protocol });
    }
    this.#forceClose(err as Error);
  }

  #forceClose(err: Error | null): void {
    if (this.#connectionLost) return;
    if (this.#writeQueued > 0) {
      this.#writeQueue = [];
      this.#writeQueued = 0;
      this.#loop.removeWriter(this.#fd);
    }
    if (!this.#closing) {
      this.#closing = true;
      this.#direct = false;
      this.#dropPending();
      if (this.#reading) this.#loop.removeReader(this.#fd);
    }
    this.#lose(err);
  }

  #lose(err: Error | null): void {
    if (this.#connectionLost) return;
    this.#connectionLost = true;
    this.#loop.callSoon(() => this.#callConnectionLost(err));
  }

  #callConnectionLost(err: Error | null): void {
    // Bytes of ours still batched (written outside a pass, then aborted) go before the fd is
    // closed: sent after, they would find the fd closed, or its number reused by another socket.
    this.#flushBatched();
    try {
      this.#protocol.connectionLost?.(err);
    } finally {
      const fd = this.#fd;
      this.#fd = -1;
      releaseFd(this.#loop, fd, this);
      this.#owner?.connectionClosed(this);
    }
  }

  /** @internal The loop is closing with this transport still open: release the fd, silently. */
  _closeForLoop(): void {
    if (this.#fd < 0) return;
    this.#closing = true;
    this.#direct = false;
    this.#connectionLost = true;
    this.#writeQueue = [];
    this.#writeQueued = 0;
    binding.close(this.#fd);
    this.#fd = -1;
  }

  // ---- information ---------------------------------------------------------------------------

  getExtraInfo(name: 'peername' | 'sockname'): SocketAddress | undefined;
  getExtraInfo(name: 'fd'): number;
  getExtraInfo(name: string, fallback?: unknown): unknown;
  getExtraInfo(name: string, fallback?: unknown): unknown {
    switch (name) {
      case 'peername':
        if (this.#peername === undefined && this.#fd >= 0) this.#peername = this.#address(binding.getpeername);
        return this.#peername ?? fallback;
      case 'sockname':
        if (this.#sockname === undefined && this.#fd >= 0) this.#sockname = this.#address(binding.getsockname);
        return this.#sockname ?? fallback;
      case 'fd':
        return this.#fd >= 0 ? this.#fd : fallback;
      case 'unix':
        return this.#isUnix;
      default:
        return fallback;
    }
  }

  #address(lookup: (fd: number) => SocketAddress): SocketAddress | undefined {
    try {
      return lookup(this.#fd);
    } catch {
      return undefined; // not connected (any more)
    }
  }

  getProtocol(): StreamProtocol {
    return this.#protocol;
  }

  setProtocol(protocol: StreamProtocol): void {
    const buffered = isBufferedProtocol(protocol);
    this.#protocol = protocol;
    if (buffered === this.#buffered) return;
    this.#buffered = buffered;
    this.#syncDirect();
    if (this.#reading && !this.#closing && this.#fd >= 0 && this.#loop._readers[this.#fd] !== undefined) this.#addReader();
  }

  get [Symbol.toStringTag](): string {
    return `SocketTransport fd=${this.#fd}${this.#closing ? ' closing' : ''}`;
  }
}

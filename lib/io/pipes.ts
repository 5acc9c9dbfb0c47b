// Pipe transports (asyncio's _UnixReadPipeTransport / _UnixWritePipeTransport) and the loop
// methods that make them: loop.connectReadPipe / loop.connectWritePipe. A pipe goes one way, so
// each transport is half of a socket transport: the read side hands bytes to the protocol and
// can pause; the write side buffers, keeps the protocol under its water marks, and flushes
// before it closes. Reads share the socket transports' slab.
import { Buffer } from 'node:buffer';
import { binding } from '../native/binding';
import { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import type { ProtocolLike } from './protocols';
import type { IoLoop, WriteBufferLimits } from './transport-types';
import { isConnectionError, releaseFd, resolveWriteBufferLimits, slabRead, validateBytes } from './transports';
import { codedError, validateFd, validateFunction } from '../util/validate';

/** What a pipe transport asks of its protocol (every method optional, as with sockets). */
export type PipeProtocol = Pick<ProtocolLike, 'connectionMade' | 'connectionLost' | 'dataReceived' | 'eofReceived' | 'pauseWriting' | 'resumeWriting'>;

/** Shared life of both directions: start, fatal errors, connectionLost, loop close. */
abstract class PipeTransportBase {
  protected readonly loop: IoLoop;
  protected fd: number;
  protected protocol: PipeProtocol;
  protected closing = false;
  protected lost = false;
  readonly #extra: Record<string, unknown>;

  constructor(loop: IoLoop, fd: number, protocol: PipeProtocol, waiter: Future<void> | null, extra: Record<string, unknown>) {
    this.loop = loop;
    this.fd = fd;
    this.protocol = protocol;
    this.#extra = extra;
    loop._trackResource(this);
    loop.callSoon(() => this.#start(waiter));
  }

  #start(waiter: Future<void> | null): void {
    if (this.lost) {
      if (waiter !== null && !waiter.done()) waiter.setException(codedError(Error, 'ERR_PIPE_CLOSED', 'The pipe was closed before it was connected'));
      return;
    }
    try {
      this.protocol.connectionMade?.(this as never);
    } catch (err) {
      if (waiter !== null && !waiter.done()) waiter.setException(err);
      this.fatalError(err, 'Fatal error: protocol.connectionMade() call failed.');
      return;
    }
    if (!this.closing) this.started();
    if (waiter !== null && !waiter.done()) waiter.setResult(undefined);
  }

  /** Registers the fd with the loop once connectionMade has run. */
  protected abstract started(): void;

  /** Takes the fd off the loop and drops whatever is buffered. */
  protected abstract stop(): void;

  isClosing(): boolean {
    return this.closing;
  }

  abort(): void {
    this.forceClose(null);
  }

  protected fatalError(err: unknown, message: string): void {
    if (!isConnectionError(err)) {
      this.loop.callExceptionHandler({ message, exception: err, transport: this, protocol: this.protocol });
    }
    this.forceClose(err as Error);
  }

  protected forceClose(err: Error | null): void {
    if (this.lost) return;
    this.closing = true;
    this.stop();
    this.lose(err);
  }

  protected lose(err: Error | null): void {
    if (this.lost) return;
    this.lost = true;
    this.loop.callSoon(() => {
      try {
        this.protocol.connectionLost?.(err);
      } finally {
        const fd = this.fd;
        this.fd = -1;
        releaseFd(this.loop, fd, this);
      }
    });
  }

  /** @internal The loop is closing with this pipe still open: release the fd, silently. */
  _closeForLoop(): void {
    if (this.fd < 0) return;
    this.closing = true;
    this.lost = true;
    binding.close(this.fd);
    this.fd = -1;
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    if (name === 'fd') return this.fd >= 0 ? this.fd : fallback;
    return name in this.#extra ? this.#extra[name] : fallback;
  }

  getProtocol(): PipeProtocol {
    return this.protocol;
  }

  setProtocol(protocol: PipeProtocol): void {
    this.protocol = protocol;
  }
}

/** The reading end of a pipe: bytes go to `dataReceived`, the writer's close to `eofReceived`. */
export class ReadPipeTransport extends PipeTransportBase {
  #reading = true;
  readonly #readReady = (): void => this.#onReadable();

  protected started(): void {
    if (this.#reading) this.loop.addReader(this.fd, this.#readReady);
  }

  protected stop(): void {
    if (this.#reading) this.loop.removeReader(this.fd);
    this.#reading = false;
  }

  #onReadable(): void {
    if (this.lost) return;
    let data: Buffer | 0 | -1;
    try {
      data = slabRead(binding.read, this.fd);
    } catch (err) {
      return this.fatalError(err, 'Fatal read error on pipe transport');
    }
    if (data === -1) return; // spurious wake-up; level-triggered polling reports it again
    if (data === 0) {
      // The writer closed: a pipe never reopens, so the transport ends here whatever
      // eofReceived answers (asyncio does the same).
      this.loop.removeReader(this.fd);
      this.#reading = false;
      this.closing = true;
      try {
        this.protocol.eofReceived?.();
      } catch (err) {
        return this.fatalError(err, 'Fatal error: protocol.eofReceived() call failed.');
      }
      this.lose(null);
      return;
    }
    try {
      this.protocol.dataReceived?.(data);
    } catch (err) {
      this.fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  pauseReading(): void {
    if (this.closing || !this.#reading) return;
    this.#reading = false;
    this.loop.removeReader(this.fd);
  }

  resumeReading(): void {
    if (this.closing || this.#reading) return;
    this.#reading = true;
    this.loop.addReader(this.fd, this.#readReady);
  }

  isReading(): boolean {
    return this.#reading && !this.closing;
  }

  close(): void {
    if (this.closing) return;
    this.closing = true;
    this.stop();
    this.lose(null);
  }

  get [Symbol.toStringTag](): string {
    return `ReadPipeTransport fd=${this.fd}${this.closing ? ' closing' : ''}`;
  }
}

/**
 * The writing end of a pipe. While nothing is buffered the fd is watched for reading too: the
 * kernel reports the reader's close as an error there, which is how a vanished reader is
 * noticed before the next write (asyncio's trick).
 */
export class WritePipeTransport extends PipeTransportBase {
  #queue: Uint8Array[] = [];
  #queued = 0;
  #high: number;
  #low: number;
  #protocolPaused = false;
  #watching = false;
  readonly #writeReady = (): void => this.#onWritable();
  readonly #peerClosed = (): void => this.#onPeerClosed();

  constructor(loop: IoLoop, fd: number, protocol: PipeProtocol, waiter: Future<void> | null, extra: Record<string, unknown>) {
    super(loop, fd, protocol, waiter, extra);
    [this.#high, this.#low] = resolveWriteBufferLimits();
  }

  protected started(): void {
    if (this.#queued === 0) this.#watch(true);
  }

  protected stop(): void {
    this.#watch(false);
    if (this.#queued > 0) {
      this.#queue = [];
      this.#queued = 0;
      this.loop.removeWriter(this.fd);
    }
  }

  #watch(on: boolean): void {
    if (on === this.#watching || this.fd < 0) return;
    this.#watching = on;
    if (on) this.loop.addReader(this.fd, this.#peerClosed);
    else this.loop.removeReader(this.fd);
  }

  #onPeerClosed(): void {
    if (this.lost) return;
    // Nothing to read from a write end: readiness here means the reader is gone.
    if (this.#queued > 0) this.fatalError(codedError(Error, 'EPIPE', 'write EPIPE'), 'Broken pipe');
    else this.forceClose(null);
  }

  write(data: Uint8Array): void {
    validateBytes(data);
    // As asyncio: once closing (by close(), or because the reader went away) writes are
    // dropped; drain() is where a writer learns that the pipe is gone.
    if (this.closing || this.lost || data.length === 0) return;
    if (this.#queued === 0) {
      let n: number;
      try {
        n = binding.write(this.fd, data, 0, data.length);
      } catch (err) {
        return this.fatalError(err, 'Fatal write error on pipe transport');
      }
      if (n === data.length) return;
      if (n > 0) data = data.subarray(n);
      this.#watch(false);
      this.loop.addWriter(this.fd, this.#writeReady);
    }
    // The caller may reuse its buffer once write() returns: what waits is a copy.
    this.#queue.push(Buffer.from(data));
    this.#queued += data.length;
    this.#maybePauseProtocol();
  }

  writelines(list: Iterable<Uint8Array>): void {
    for (const data of list) this.write(data);
  }

  #onWritable(): void {
    if (this.lost || this.#queued === 0) return;
    const queue = this.#queue;
    let n: number;
    try {
      n = queue.length === 1 ? binding.write(this.fd, queue[0]!, 0, queue[0]!.length) : binding.writev(this.fd, queue);
    } catch (err) {
      return this.fatalError(err, 'Fatal write error on pipe transport');
    }
    if (n <= 0) return;
    this.#queued -= n;
    let i = 0;
    while (i < queue.length && n >= queue[i]!.length) n -= queue[i++]!.length;
    if (n > 0) queue[i] = queue[i]!.subarray(n);
    if (i > 0) queue.splice(0, i);
    this.#maybeResumeProtocol();
    if (this.#queued > 0) return;
    this.loop.removeWriter(this.fd);
    if (this.closing) this.lose(null);
    else this.#watch(true);
  }

  #maybePauseProtocol(): void {
    if (this.#protocolPaused || this.#queued <= this.#high) return;
    this.#protocolPaused = true;
    try {
      this.protocol.pauseWriting?.();
    } catch (err) {
      this.loop.callExceptionHandler({ message: 'protocol.pauseWriting() failed', exception: err, transport: this, protocol: this.protocol });
    }
  }

  #maybeResumeProtocol(): void {
    if (!this.#protocolPaused || this.#queued > this.#low) return;
    this.#protocolPaused = false;
    try {
      this.protocol.resumeWriting?.();
    } catch (err) {
      this.loop.callExceptionHandler({ message: 'protocol.resumeWriting() failed', exception: err, transport: this, protocol: this.protocol });
    }
  }

  setWriteBufferLimits(limits?: WriteBufferLimits): void {
    [this.#high, this.#low] = resolveWriteBufferLimits(limits);
    this.#maybePauseProtocol();
  }

  getWriteBufferLimits(): [number, number] {
    return [this.#low, this.#high];
  }

  getWriteBufferSize(): number {
    return this.#queued;
  }

  /** A pipe has no half-close: EOF for the reader is closing this end, once flushed. */
  writeEof(): void {
    this.close();
  }

  canWriteEof(): boolean {
    return true;
  }

  /** Flushes what is buffered, then closes; `connectionLost(null)` follows. */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    if (this.#queued === 0) {
      this.#watch(false);
      this.lose(null);
    }
  }

  // A write end reads nothing; these keep the Transport shape for StreamWriter and friends.
  pauseReading(): void {}
  resumeReading(): void {}
  isReading(): boolean {
    return false;
  }

  get [Symbol.toStringTag](): string {
    return `WritePipeTransport fd=${this.fd}${this.closing ? ' closing' : ''}`;
  }
}

function connectPipe<P extends PipeProtocol, T>(
  loop: EventLoop,
  protocolFactory: () => P,
  fd: number,
  make: (fd: number, protocol: P, waiter: Future<void>) => T,
): Future<[T, P]> {
  validateFunction(protocolFactory, 'protocolFactory');
  validateFd(fd);
  const result = loop.createFuture<[T, P]>();
  // From here on the transport owns the fd (asyncio's pipe transports close their pipe too).
  const owned = binding.ownPipe(fd);
  let protocol: P;
  try {
    protocol = protocolFactory();
  } catch (err) {
    binding.close(owned);
    result.setException(err);
    return result;
  }
  const waiter = loop.createFuture<void>();
  const transport = make(owned, protocol, waiter);
  // Cancelled before it resolved: nobody will own the transport, so close it (and its fd).
  result.addDoneCallback(() => {
    if (result.cancelled()) (transport as unknown as { abort(): void }).abort();
  });
  waiter.addDoneCallback(() => {
    if (result.done()) return;
    if (waiter.cancelled()) result.cancel();
    else if (waiter.exception() != null) result.setException(waiter.exception()!);
    else result.setResult([transport, protocol]);
  });
  return result;
}

/** Wraps the read end of a pipe (any fd: a FIFO, a socket, a character device) as a transport. */
export function connectReadPipe<P extends PipeProtocol>(this: EventLoop, protocolFactory: () => P, fd: number): Future<[ReadPipeTransport, P]> {
  return connectPipe(this, protocolFactory, fd, (owned, protocol, waiter) => new ReadPipeTransport(this, owned, protocol, waiter, { pipe: fd }));
}

/** Wraps the write end of a pipe as a transport. */
export function connectWritePipe<P extends PipeProtocol>(this: EventLoop, protocolFactory: () => P, fd: number): Future<[WritePipeTransport, P]> {
  return connectPipe(this, protocolFactory, fd, (owned, protocol, waiter) => new WritePipeTransport(this, owned, protocol, waiter, { pipe: fd }));
}

declare module '../core/loop' {
  interface EventLoop {
    /** asyncio's connect_read_pipe: the transport owns `fd` from now on (made non-blocking, closed with it). */
    connectReadPipe<P extends PipeProtocol>(protocolFactory: () => P, fd: number): Future<[ReadPipeTransport, P]>;
    /** asyncio's connect_write_pipe: the transport owns `fd` from now on. */
    connectWritePipe<P extends PipeProtocol>(protocolFactory: () => P, fd: number): Future<[WritePipeTransport, P]>;
  }
}

EventLoop.prototype.connectReadPipe = connectReadPipe;
EventLoop.prototype.connectWritePipe = connectWritePipe;

// The layer of a pool that knows nothing about connections: the FIFO queue of waiting acquires,
// their futures, deadlines and abort signals, the closed state and the event hooks. The concrete
// pool (pool.ts) decides where a connection comes from; this layer only hands values to waiters.
// The split follows undici's PoolBase / Pool.
import { getRunningLoop, type EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { Waiter, WaiterQueue, resolvedOn, type Granter } from '../sync/waiter';
import { PENDING } from '../core/events';
import { TimeoutError } from '../util/errors';
import { toLogger, type Logger } from '../util/logger';
import { codedError, invalidArgType, validateMs, validateObject } from '../util/validate';

export interface AcquireOptions {
  /** Milliseconds to wait for a connection before the acquire fails with TimeoutError. */
  timeout?: number;
  /** Aborting it cancels the acquire (the future is cancelled with `signal.reason`). */
  signal?: AbortSignal;
}

export type PoolEvent = 'create' | 'destroy' | 'acquire' | 'release' | 'acquire-wait' | 'create-error' | 'close';

/** What a queued acquire with a deadline or an abort signal must undo when it leaves the queue. */
interface WaiterExtras {
  timer: { cancel(): void } | null;
  signal: AbortSignal | null;
  onAbort: (() => void) | null;
}

/** Returned by takeNow when nothing can be handed out synchronously. */
export const NOTHING: unique symbol = Symbol('nothing');

export function poolClosedError(): Error & { code: string } {
  return codedError(Error, 'ERR_POOL_CLOSED', 'the pool is closed');
}

export abstract class PoolBase<T> implements Granter<T> {
  protected loop: EventLoop | null = null;
  protected closed = false;
  protected readonly logger: Logger;
  protected readonly defaultTimeout: number;
  /**
   * Queued acquires, oldest first. Their futures are sync's revocable Waiters: one cancelled by
   * its owner unlinks itself at once, and one cancelled after it was handed a connection but
   * before anyone saw it gives the connection back (takeBack) instead of leaking it.
   */
  private readonly queue = new WaiterQueue<T>();
  private listeners: Map<PoolEvent, Array<(...args: unknown[]) => void>> | null = null;
  protected timeouts = 0;

  protected constructor(options: { acquireTimeout?: number; logger?: unknown }) {
    this.logger = toLogger(options.logger);
    this.defaultTimeout = options.acquireTimeout === undefined ? Infinity : validateMs(options.acquireTimeout, 'options.acquireTimeout');
  }

  /** A connection to hand out at once (the concrete pool books it as in use), or NOTHING. */
  protected abstract takeNow(): T | typeof NOTHING;
  /** Serve queued waiters from whatever the concrete pool has or can create. */
  protected abstract dispatch(): void;
  /** Called when the pool first meets a running loop (or a new one after the old closed). */
  protected abstract onLoopBound(): void;
  /**
   * A waiter handed `conn` was cancelled before anyone saw it: book the connection back as free
   * (to the next waiter or the idle stack). False if it is no longer this pool's to take back.
   */
  protected abstract takeBack(conn: T): boolean;

  /** @internal Granter: called by Waiter.cancel on a grant nobody has seen yet. */
  _revoke(_waiter: Waiter<T>, conn: T): boolean {
    return this.takeBack(conn);
  }

  /** The running loop, bound on first use; a pool may outlive one `run()` and serve the next. */
  protected bindLoop(): EventLoop {
    const loop = this.loop;
    if (loop !== null && !loop.isClosed()) return loop;
    this.loop = getRunningLoop();
    this.onLoopBound();
    return this.loop;
  }

  /** The bound loop if it can still schedule, else the running one, else null. */
  protected usableLoop(): EventLoop | null {
    if (this.loop !== null && !this.loop.isClosed()) return this.loop;
    try {
      return this.bindLoop();
    } catch {
      return null;
    }
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Queued acquires (cancelled ones have left the queue already). */
  protected get waiting(): number {
    return this.queue.length;
  }

  get closedState(): boolean {
    return this.closed;
  }

  /** Wait for a connection: at once if one is idle (and valid), else FIFO behind earlier acquires. */
  acquire(options?: AcquireOptions): Future<T> {
    let timeout = this.defaultTimeout;
    let signal: AbortSignal | null = null;
    if (options !== undefined) {
      validateObject(options, 'options');
      if (options.timeout !== undefined) timeout = validateMs(options.timeout, 'options.timeout');
      if (options.signal !== undefined) {
        const candidate: unknown = options.signal;
        if (
          candidate === null ||
          typeof candidate !== 'object' ||
          typeof (candidate as { aborted?: unknown }).aborted !== 'boolean' ||
          typeof (candidate as { addEventListener?: unknown }).addEventListener !== 'function'
        ) {
          throw invalidArgType('options.signal', 'an instance of AbortSignal', candidate);
        }
        signal = candidate as AbortSignal;
      }
    }
    const loop = this.bindLoop();
    if (this.closed) {
      const future = loop.createFuture<T>();
      future.setException(poolClosedError());
      return future;
    }
    if (signal !== null && signal.aborted) {
      const future = loop.createFuture<T>();
      future.cancel(abortMessage(signal));
      return future;
    }
    const conn = this.tryTake();
    if (conn !== NOTHING) return resolvedOn(loop, conn);
    const waiter = this.enqueue(timeout, signal, loop);
    this.dispatch();
    return waiter;
  }

  /**
   * The acquire fast path without a future: a connection when nothing waits and one is idle and
   * valid (booked as in use, 'acquire' emitted), else NOTHING. Never while the pool is closed.
   */
  protected tryTake(): T | typeof NOTHING {
    if (this.queue.length !== 0 || this.closed) return NOTHING;
    const conn = this.takeNow();
    if (conn !== NOTHING && this.listeners !== null) this.emit('acquire', conn);
    return conn;
  }

  /** Queue an acquire (the caller then runs dispatch, which may serve it at once). */
  protected enqueue(timeout: number, signal: AbortSignal | null, loop: EventLoop): Waiter<T> {
    const waiter = new Waiter<T>(loop);
    this.queue.push(waiter);
    if (timeout !== Infinity || signal !== null) {
      const extras: WaiterExtras = { timer: null, signal, onAbort: null };
      waiter._payload = extras;
      if (timeout !== Infinity) extras.timer = loop.callLater(timeout, () => this.expire(waiter, timeout));
      if (signal !== null) {
        extras.onAbort = () => this.abort(waiter);
        signal.addEventListener('abort', extras.onAbort, { once: true });
      }
      // However it ends (served, timed out, aborted, cancelled by its owner), the timer and the
      // abort listener go: a long-lived signal must not collect one listener per acquire.
      waiter._addCallbackInternal(() => dropExtras(waiter));
    }
    if (this.listeners !== null) this.emit('acquire-wait', this.queue.length);
    return waiter;
  }

  private expire(waiter: Waiter<T>, timeout: number): void {
    (waiter._payload as WaiterExtras).timer = null;
    if (waiter.done()) return;
    this.queue.unlink(waiter);
    this.timeouts++;
    waiter.setException(new TimeoutError(`pool acquire timed out after ${timeout} ms`));
  }

  private abort(waiter: Waiter<T>): void {
    const extras = waiter._payload as WaiterExtras;
    extras.onAbort = null;
    if (waiter.done()) return;
    // Waiter.cancel unlinks it from the queue.
    waiter.cancel(abortMessage(extras.signal!));
  }

  /**
   * The oldest waiter still waiting. A future someone settled by hand, or one of a loop that
   * closed meanwhile, is dropped here: it must never receive a connection.
   */
  protected firstWaiter(): Waiter<T> | null {
    const queue = this.queue;
    let waiter = queue.head;
    // Fields, not done()/getLoop(): shared Future methods, which V8 does not always inline here.
    while (waiter !== null && (waiter._state !== PENDING || waiter._loop.isClosed())) {
      queue.removeHead(waiter);
      waiter = queue.head;
    }
    return waiter;
  }

  /** True when someone waits: then a connection that comes free goes to them, not to the idle list. */
  protected hasWaiter(): boolean {
    return this.firstWaiter() !== null;
  }

  /** Hand `conn` to the oldest waiter; false if none waits (the caller keeps the connection). */
  protected serveFirst(conn: T): boolean {
    const waiter = this.firstWaiter();
    if (waiter === null) return false;
    this.grant(waiter, conn);
    return true;
  }

  /** Hand `conn` to `waiter`, which firstWaiter() just returned. */
  protected grant(waiter: Waiter<T>, conn: T): void {
    this.queue.removeHead(waiter);
    // Revocable until the waiter's owner sees it (see Waiter): then _revoke gives it back.
    waiter._grant(this, conn);
    if (this.listeners !== null) this.emit('acquire', conn);
  }

  /** Fail the oldest waiter with `err`; false if none waits. */
  protected failFirst(err: unknown): boolean {
    const waiter = this.firstWaiter();
    if (waiter === null) return false;
    this.queue.removeHead(waiter);
    waiter._setException(err);
    return true;
  }

  protected failAll(err: () => unknown): void {
    for (let waiter = this.firstWaiter(); waiter !== null; waiter = this.firstWaiter()) {
      this.queue.removeHead(waiter);
      waiter.setException(err());
    }
  }

  /** Subscribe to 'create', 'destroy', 'acquire', 'release', 'acquire-wait', 'create-error', 'close'. */
  on(event: PoolEvent, listener: (...args: unknown[]) => void): this {
    if (typeof listener !== 'function') throw invalidArgType('listener', 'of type function', listener);
    if (!EVENTS.has(event)) {
      throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `unknown pool event ${JSON.stringify(event)}; known: ${[...EVENTS].join(', ')}`);
    }
    this.listeners ??= new Map();
    const list = this.listeners.get(event);
    if (list) list.push(listener);
    else this.listeners.set(event, [listener]);
    return this;
  }

  off(event: PoolEvent, listener: (...args: unknown[]) => void): this {
    const list = this.listeners?.get(event);
    if (list) {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    }
    return this;
  }

  protected hasListeners(): boolean {
    return this.listeners !== null;
  }

  /** A listener that throws is logged, never allowed to corrupt the pool's bookkeeping. */
  protected emit(event: PoolEvent, ...args: unknown[]): void {
    const list = this.listeners?.get(event);
    if (!list) return;
    for (const listener of list.slice()) {
      try {
        listener(...args);
      } catch (err) {
        this.logger.error('pool event listener threw', err, event);
      }
    }
  }
}

const EVENTS: ReadonlySet<string> = new Set(['create', 'destroy', 'acquire', 'release', 'acquire-wait', 'create-error', 'close']);

function dropExtras(waiter: Waiter<unknown>): void {
  const extras = waiter._payload as WaiterExtras;
  if (extras.timer !== null) {
    extras.timer.cancel();
    extras.timer = null;
  }
  if (extras.onAbort !== null) {
    extras.signal!.removeEventListener('abort', extras.onAbort);
    extras.onAbort = null;
  }
}

function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message || reason.name;
  return reason === undefined ? 'aborted' : String(reason);
}

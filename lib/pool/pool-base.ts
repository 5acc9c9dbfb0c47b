// The layer of a pool that knows nothing about connections: the FIFO queue of waiting acquires,
// their futures, deadlines and abort signals, the closed state and the event hooks. The concrete
// pool (pool.ts) decides where a connection comes from; this layer only hands values to waiters.
// The split follows undici's PoolBase / Pool.
import { getRunningLoop, type EventLoop } from '../core/loop';
import type { Future } from '../core/future';
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

/** A queued acquire. Unlinked from the queue once it is served, timed out, aborted or cancelled. */
interface Waiter<T> {
  readonly future: Future<T>;
  timer: { cancel(): void } | null;
  signal: AbortSignal | null;
  onAbort: (() => void) | null;
  prev: Waiter<T> | null;
  next: Waiter<T> | null;
  queued: boolean;
}

/** Returned by takeNow when nothing can be handed out synchronously. */
export const NOTHING: unique symbol = Symbol('nothing');

export function poolClosedError(): Error & { code: string } {
  return codedError(Error, 'ERR_POOL_CLOSED', 'the pool is closed');
}

export abstract class PoolBase<T> {
  protected loop: EventLoop | null = null;
  protected closed = false;
  protected readonly logger: Logger;
  protected readonly defaultTimeout: number;
  private head: Waiter<T> | null = null;
  private tail: Waiter<T> | null = null;
  /** Queued waiters; one whose future was cancelled by its owner counts until its done callback runs. */
  protected waiting = 0;
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
    return this.waiting;
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
    const future = loop.createFuture<T>();
    if (this.closed) {
      future.setException(poolClosedError());
      return future;
    }
    if (signal !== null && signal.aborted) {
      future.cancel(abortMessage(signal));
      return future;
    }
    if (this.waiting === 0) {
      const conn = this.takeNow();
      if (conn !== NOTHING) {
        future.setResult(conn);
        if (this.listeners !== null) this.emit('acquire', conn);
        return future;
      }
    }
    this.enqueue(future, timeout, signal, loop);
    this.dispatch();
    return future;
  }

  private enqueue(future: Future<T>, timeout: number, signal: AbortSignal | null, loop: EventLoop): void {
    const waiter: Waiter<T> = { future, timer: null, signal, onAbort: null, prev: this.tail, next: null, queued: true };
    if (this.tail === null) this.head = waiter;
    else this.tail.next = waiter;
    this.tail = waiter;
    this.waiting++;
    if (timeout !== Infinity) waiter.timer = loop.callLater(timeout, () => this.expire(waiter, timeout));
    if (signal !== null) {
      waiter.onAbort = () => this.abort(waiter);
      signal.addEventListener('abort', waiter.onAbort, { once: true });
    }
    // The owner may cancel the future (a task cancelled while it waits): drop it from the queue.
    future.addDoneCallback(() => {
      if (waiter.queued) this.unlink(waiter);
    });
    if (this.listeners !== null) this.emit('acquire-wait', this.waiting);
  }

  private unlink(waiter: Waiter<T>): void {
    if (!waiter.queued) return;
    waiter.queued = false;
    if (waiter.prev === null) this.head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === null) this.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = null;
    this.waiting--;
    if (waiter.timer !== null) {
      waiter.timer.cancel();
      waiter.timer = null;
    }
    if (waiter.onAbort !== null) {
      waiter.signal!.removeEventListener('abort', waiter.onAbort);
      waiter.onAbort = null;
    }
  }

  private expire(waiter: Waiter<T>, timeout: number): void {
    waiter.timer = null;
    if (!waiter.queued) return;
    this.unlink(waiter);
    if (!waiter.future.done()) {
      this.timeouts++;
      waiter.future.setException(new TimeoutError(`pool acquire timed out after ${timeout} ms`));
    }
  }

  private abort(waiter: Waiter<T>): void {
    waiter.onAbort = null;
    if (!waiter.queued) return;
    const message = abortMessage(waiter.signal!);
    this.unlink(waiter);
    if (!waiter.future.done()) waiter.future.cancel(message);
  }

  /**
   * The oldest waiter still waiting. Futures cancelled by their owner are dropped here at once:
   * their done callbacks run a loop step later, and they must never receive a connection.
   */
  protected firstWaiter(): Waiter<T> | null {
    let waiter = this.head;
    while (waiter !== null && waiter.future.done()) {
      this.unlink(waiter);
      waiter = this.head;
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
    this.unlink(waiter);
    waiter.future.setResult(conn);
    if (this.listeners !== null) this.emit('acquire', conn);
    return true;
  }

  /** Fail the oldest waiter with `err`; false if none waits. */
  protected failFirst(err: unknown): boolean {
    const waiter = this.firstWaiter();
    if (waiter === null) return false;
    this.unlink(waiter);
    waiter.future.setException(err);
    return true;
  }

  protected failAll(err: () => unknown): void {
    for (let waiter = this.firstWaiter(); waiter !== null; waiter = this.firstWaiter()) {
      this.unlink(waiter);
      waiter.future.setException(err());
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

function abortMessage(signal: AbortSignal): string {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason.message || reason.name;
  return reason === undefined ? 'aborted' : String(reason);
}

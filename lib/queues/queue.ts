// asyncio.Queue (with 3.13's shutdown): a FIFO queue for producer and consumer tasks.
//
// Items and free slots are handed over directly: put() with a getter waiting resolves that
// getter with the item, and get() from a full queue lets the first waiting putter's item in and
// resolves its put. A getter (or putter) cancelled after it was served but before anything saw
// it gives the item back (or takes its item out again), so a cancelled get never loses an item
// and a cancelled put never leaves one behind (waiter.ts). Subclasses choose the order through
// the storage hooks (_push, _take, _unget, _removeItem, _size, _clear, _items).
import Denque from 'denque';
import type { Future } from '../core/future';
import type { AbstractEventLoop as EventLoop } from '../core/events';
import { QueueEmpty, QueueFull, QueueShutDown } from '../util/errors';
import { invalidArgType, outOfRange, validateInteger, validateObject } from '../util/validate';
import { getRunningLoop as _runningLoop } from '../core/running';
import { Waiter, WaiterQueue, bindLoop, failed, resolvedOn, resolvedVoid, NOTHING_TO_GIVE_BACK, type Granter } from '../sync/waiter';

export interface QueueOptions {
  /** Most items the queue holds; put() waits while it is full. 0 (the default): no limit. */
  maxsize?: number;
}

function iterResult<T>(value: T): IteratorResult<T> {
  return { value, done: false };
}
const ITER_DONE: IteratorResult<never> = { value: undefined, done: true };
function endAtShutdown(err: unknown): IteratorResult<never> {
  if (err instanceof QueueShutDown) return ITER_DONE;
  throw err;
}

export class Queue<T = unknown> implements AsyncIterable<T> {
  private readonly _maxsize: number;
  /** @internal */ _getters = new WaiterQueue<T>();
  /** @internal */ _putters = new WaiterQueue<void>();
  private _joiners: WaiterQueue<void> | null = null;
  private _unfinished = 0;
  private _isShutdown = false;
  private _loop: EventLoop | null = null;
  private readonly _getterGranter: Granter<T>;
  private readonly _putterGranter: Granter<void>;

  constructor(options?: QueueOptions) {
    if (options !== undefined) validateObject(options, 'options');
    const maxsize = options?.maxsize;
    this._maxsize = maxsize === undefined ? 0 : validateInteger(maxsize, 'options.maxsize', 0);
    this._getterGranter = { _revoke: (_w, item) => this._revokeGet(item) };
    this._putterGranter = { _revoke: (w) => this._revokePut(w) };
  }

  // ---- storage: FIFO here, overridden by LifoQueue and PriorityQueue ----
  private readonly _fifo = new Denque<T>();
  /** @internal */ _size(): number {
    return this._fifo.length;
  }
  /** @internal */ _push(item: T): void {
    this._fifo.push(item);
  }
  /** @internal the next item to give out */ _take(): T {
    return this._fifo.shift() as T;
  }
  /** @internal puts an item back as the next to give out */ _unget(item: T): void {
    this._fifo.unshift(item);
  }
  /** @internal takes out the latest copy of `item`; false when it is no longer there */ _removeItem(item: T): boolean {
    const q = this._fifo;
    for (let i = q.length - 1; i >= 0; i--) {
      if (q.peekAt(i) === item) {
        q.removeOne(i);
        return true;
      }
    }
    return false;
  }
  /** @internal */ _clear(): void {
    this._fifo.clear();
  }
  /** @internal the items in the order they would be given out */ _items(): T[] {
    return this._fifo.toArray();
  }

  // ---- the public surface ----

  get maxsize(): number {
    return this._maxsize;
  }

  /** Items in the queue (not counting those handed to waiting getters). */
  qsize(): number {
    return this._size();
  }

  empty(): boolean {
    return this._size() === 0;
  }

  /** True when there are maxsize items; never with maxsize 0. */
  full(): boolean {
    return this._maxsize > 0 && this._size() >= this._maxsize;
  }

  /** Adds `item`, waiting while the queue is full. Fails with QueueShutDown after shutdown(). */
  put(item: T): Future<void> {
    if (this._isShutdown) return failed(new QueueShutDown());
    if (this._maxsize > 0 && this._size() >= this._maxsize) {
      const w = new Waiter<void>((this._loop = bindLoop(this._loop, this)));
      w._payload = item;
      this._putters.push(w);
      return w;
    }
    const done = resolvedVoid(); // first: it throws without a running loop, before the item goes in
    this._admit(item);
    return done;
  }

  /** Adds `item` now; throws QueueFull when full, QueueShutDown after shutdown(). */
  putNowait(item: T): void {
    if (this._isShutdown) throw new QueueShutDown();
    if (this.full()) throw new QueueFull();
    this._admit(item);
  }

  /** Removes and resolves to the next item, waiting while empty. QueueShutDown once shut down and empty. */
  get(): Future<T> {
    if (this._size() > 0) {
      const loop = _runningLoop(); // first: without a running loop the item must stay queued
      return resolvedOn(loop, this._takeAndRefill());
    }
    if (this._isShutdown) return failed(new QueueShutDown());
    const w = new Waiter<T>((this._loop = bindLoop(this._loop, this)));
    this._getters.push(w);
    return w;
  }

  /** Removes and returns the next item; throws QueueEmpty (QueueShutDown once shut down) when empty. */
  getNowait(): T {
    if (this._size() > 0) return this._takeAndRefill();
    throw this._isShutdown ? new QueueShutDown() : new QueueEmpty();
  }

  /** One item taken from the queue has been processed (join() resolves when all have). */
  taskDone(): void {
    if (this._unfinished <= 0) throw outOfRange('taskDone() calls', 'at most the number of items put', this._unfinished + 1);
    if (--this._unfinished === 0) this._finishJoiners();
  }

  /** Resolves once every item put has been taken and marked with taskDone(). */
  join(): Future<void> {
    if (this._unfinished === 0) return resolvedVoid();
    const w = new Waiter<void>((this._loop = bindLoop(this._loop, this)));
    (this._joiners ??= new WaiterQueue<void>()).push(w);
    return w;
  }

  /**
   * Stops the queue (asyncio 3.13): put() and putNowait() throw QueueShutDown from now on, and
   * so do get() and getNowait() once the queue is empty. `immediate`: drop the items now (they
   * count as done for join()). Waiting putters and getters fail with QueueShutDown.
   */
  shutdown(immediate: boolean = false): void {
    if (typeof immediate !== 'boolean') throw invalidArgType('immediate', 'of type boolean', immediate);
    this._isShutdown = true;
    if (immediate) {
      const n = this._size();
      this._clear();
      if (n > 0 && this._unfinished > 0) {
        this._unfinished = Math.max(0, this._unfinished - n);
        if (this._unfinished === 0) this._finishJoiners();
      }
    }
    for (let g = this._getters.shift(); g !== null; g = this._getters.shift()) g.setException(new QueueShutDown());
    for (let p = this._putters.shift(); p !== null; p = this._putters.shift()) p.setException(new QueueShutDown());
  }

  /** `for await (const item of queue)`: the items as they come, until the queue is shut down (and empty). */
  [Symbol.asyncIterator](): AsyncIterator<T> {
    const next = (): Promise<IteratorResult<T>> => this.get().then(iterResult, endAtShutdown);
    return { next };
  }

  toString(): string {
    let s = `<${this.constructor.name} maxsize=${this._maxsize}`;
    if (this._size() > 0) s += ` _queue=${JSON.stringify(this._items().slice(0, 10))}`;
    if (this._getters.length) s += ` _getters[${this._getters.length}]`;
    if (this._putters.length) s += ` _putters[${this._putters.length}]`;
    if (this._unfinished) s += ` tasks=${this._unfinished}`;
    if (this._isShutdown) s += ' shutdown';
    return s + '>';
  }

  // ---- hand-over ----

  private _admit(item: T): void {
    const g = this._getters.shift();
    if (g !== null) g._grant(this._getterGranter, item);
    else this._push(item);
    this._unfinished++;
  }

  private _takeAndRefill(): T {
    const item = this._take();
    if (this._putters.length !== 0) this._admitPutter();
    return item;
  }

  /** A slot is free: the first waiting putter's item goes in (a putter whose item the order refuses fails). */
  private _admitPutter(): void {
    for (let p = this._putters.shift(); p !== null; p = this._putters.shift()) {
      try {
        this._push(p._payload as T);
      } catch (err) {
        p.setException(err instanceof Error ? err : new TypeError(String(err)));
        continue;
      }
      this._unfinished++;
      p._grant(this._putterGranter, undefined);
      return;
    }
  }

  private _finishJoiners(): void {
    const joiners = this._joiners;
    if (joiners === null) return;
    for (let j = joiners.shift(); j !== null; j = joiners.shift()) j._grant(NOTHING_TO_GIVE_BACK, undefined);
  }

  /** A served getter was cancelled before it saw its item: the item is the next to go out. */
  private _revokeGet(item: T): boolean {
    const g = this._getters.shift();
    if (g !== null) {
      g._grant(this._getterGranter, item);
      return true;
    }
    try {
      this._unget(item);
    } catch {
      return false; // the order refuses it: it stays with the getter rather than vanish
    }
    return true;
  }

  /** A served putter was cancelled before it saw its put done: take its item out if still there. */
  private _revokePut(w: Waiter<void>): boolean {
    if (!this._removeItem(w._payload as T)) return false;
    if (--this._unfinished === 0) this._finishJoiners();
    // Its slot is free again: the next putter in line gets it.
    if (this._putters.length !== 0) this._admitPutter();
    return true;
  }
}

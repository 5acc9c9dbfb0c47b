// asyncio.Semaphore and BoundedSemaphore: a counter of permits, FIFO among waiters.
//
// As with Lock, release() hands a permit straight to the first waiter rather than raising the
// count, so nobody can overtake a woken waiter (asyncio 3.11+'s FIFO guarantee); a waiter
// cancelled before it resumed gives its permit back to the next one (waiter.ts).
import type { Future } from '../core/future';
import type { Task } from '../core/task';
import type { AbstractEventLoop as EventLoop } from '../core/events';
import { outOfRange, validateFunction, validateInteger } from '../util/validate';
import { Waiter, WaiterQueue, bindLoop, resolvedTrue, type Granter } from './waiter';
import { useHeld, type Awaitable } from './use';

export class Semaphore implements Granter<true> {
  /** @internal free permits */ _value: number;
  /** @internal */ _waiters = new WaiterQueue<true>();
  private _loop: EventLoop | null = null;

  constructor(value: number = 1) {
    this._value = validateInteger(value, 'value', 0);
  }

  /** True when acquire() would have to wait. */
  locked(): boolean {
    return this._value === 0;
  }

  /** Resolves to true once a permit is the caller's. */
  acquire(): Future<true> {
    if (this._value > 0) {
      const done = resolvedTrue(); // first: it throws without a running loop
      this._value--;
      return done;
    }
    const loop = (this._loop = bindLoop(this._loop, this));
    const w = new Waiter<true>(loop);
    this._waiters.push(w);
    return w;
  }

  /** Gives a permit back: to the first waiter, else to the count. */
  release(): void {
    this._handOver();
  }

  /** Acquire, run `fn` (generator function or async function), release on every exit path. */
  use<R>(fn: () => Awaitable<R>): Task<R> {
    validateFunction(fn, 'fn');
    const loop = bindLoop(this._loop, this);
    return useHeld(loop, () => this.acquire(), () => this.release(), fn);
  }

  /** @internal */
  _revoke(_w: Waiter<true>, _value: true): boolean {
    this._handOver();
    return true;
  }

  private _handOver(): void {
    const next = this._waiters.shift();
    if (next === null) this._value++;
    else next._grant(this, true);
  }

  toString(): string {
    const w = this._waiters.length;
    const state = this._value === 0 ? 'locked' : `unlocked, value:${this._value}`;
    return `<${this.constructor.name} [${state}${w !== 0 ? `, waiters:${w}` : ''}]>`;
  }
}

/** A Semaphore that refuses (RangeError) to be released above its initial value. */
export class BoundedSemaphore extends Semaphore {
  private readonly _bound: number;

  constructor(value: number = 1) {
    super(value);
    this._bound = value;
  }

  override release(): void {
    if (this._value >= this._bound) throw outOfRange('value', `at most the initial ${this._bound} (BoundedSemaphore released too many times)`, this._value + 1);
    super.release();
  }
}

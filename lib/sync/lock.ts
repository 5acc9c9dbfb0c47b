// asyncio.Lock: a mutex for tasks with fair, FIFO hand-over.
//
// release() hands the lock straight to the first waiter (it stays locked), so a task arriving
// between the release and the waiter's resumption queues behind it, as in asyncio 3.11+. A
// waiter cancelled before it resumed gives the lock back (waiter.ts), and the next one gets it.
import type { Future } from '../core/future';
import type { Task } from '../core/task';
import type { AbstractEventLoop as EventLoop } from '../core/events';
import { EventLoopError } from '../util/errors';
import { invalidArgValue, validateFunction } from '../util/validate';
import { Waiter, WaiterQueue, bindLoop, resolvedTrue, type Granter } from './waiter';
import { useHeld, type Awaitable } from './use';

export function lockNotHeld(message: string): EventLoopError {
  return new EventLoopError(message, 'ERR_LOCK_NOT_HELD');
}

export class Lock implements Granter<true> {
  private _locked = false;
  /** @internal */ _waiters = new WaiterQueue<true>();
  private _loop: EventLoop | null = null;

  constructor(loop?: never) {
    // asyncio 3.10+ refuses Lock(loop=...): the lock binds to the running loop on first wait.
    if (loop !== undefined) throw invalidArgValue('loop', loop, 'is not accepted: a Lock binds to the running loop on first wait');
  }

  /** True while some task holds the lock (or it is being handed to a waiter). */
  locked(): boolean {
    return this._locked;
  }

  /** Resolves to true once the lock is the caller's; FIFO among waiters. */
  acquire(): Future<true> {
    if (!this._locked) {
      const done = resolvedTrue(); // first: it throws without a running loop, and the lock must stay free then
      this._locked = true;
      return done;
    }
    const loop = (this._loop = bindLoop(this._loop, this));
    const w = new Waiter<true>(loop);
    this._waiters.push(w);
    return w;
  }

  /** Unlocks, or hands the lock to the first waiter. Throws ERR_LOCK_NOT_HELD when unlocked. */
  release(): void {
    if (!this._locked) throw lockNotHeld('release() of a Lock that is not acquired');
    this._handOver();
  }

  /** Acquire, run `fn` (generator function or async function), release on every exit path. */
  use<R>(fn: () => Awaitable<R>): Task<R> {
    validateFunction(fn, 'fn');
    const loop = bindLoop(this._loop, this);
    return useHeld(loop, () => this.acquire(), () => this.release(), fn);
  }

  /** @internal a granted waiter was cancelled before anyone saw the grant: pass the lock on */
  _revoke(_w: Waiter<true>, _value: true): boolean {
    this._handOver();
    return true;
  }

  private _handOver(): void {
    const next = this._waiters.shift();
    if (next === null) this._locked = false;
    else next._grant(this, true);
  }

  toString(): string {
    const w = this._waiters.length;
    return `<Lock [${this._locked ? 'locked' : 'unlocked'}${w !== 0 ? `, waiters:${w}` : ''}]>`;
  }
}

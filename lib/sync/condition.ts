// asyncio.Condition: tasks wait (releasing the lock) until another task notifies them; wait()
// always re-acquires the lock before it settles, also when it is cancelled.
//
// wait() and waitFor() are multi-step (release, wait, re-acquire), so each runs as a Task that
// starts eagerly — the lock is released by the time wait() returns — and follows asyncio's
// coroutine: a cancellation while re-acquiring retries the acquire and re-raises afterwards, and
// a waiter that leaves with an error after it may have been notified passes the notification on
// (a spurious wake-up is allowed; a lost one is not).
import { CancelledError } from '../util/errors';
import type { Future } from '../core/future';
import type { Task } from '../core/task';
import type { AbstractEventLoop as EventLoop } from '../core/events';
import { invalidArgType, validateFunction, validateInteger } from '../util/validate';
import { Lock, lockNotHeld } from './lock';
import { Waiter, WaiterQueue, bindLoop } from './waiter';
import { useHeld, type Awaitable } from './use';

export class Condition {
  private readonly _lock: Lock;
  /** @internal */ _waiters = new WaiterQueue<boolean>();
  private _loop: EventLoop | null = null;

  constructor(lock?: Lock) {
    if (lock !== undefined && !(lock instanceof Lock)) throw invalidArgType('lock', 'an instance of Lock', lock);
    this._lock = lock ?? new Lock();
  }

  locked(): boolean {
    return this._lock.locked();
  }

  acquire(): Future<true> {
    return this._lock.acquire();
  }

  release(): void {
    this._lock.release();
  }

  /** Acquire, run `fn` (generator function or async function), release on every exit path. */
  use<R>(fn: () => Awaitable<R>): Task<R> {
    validateFunction(fn, 'fn');
    const loop = bindLoop(this._loop, this);
    return useHeld(loop, () => this._lock.acquire(), () => this._lock.release(), fn);
  }

  /** Releases the lock, waits for notify(), re-acquires; resolves to true. Requires the lock. */
  wait(): Task<true> {
    if (!this.locked()) throw lockNotHeld('wait() on a Condition whose lock is not acquired');
    const loop = (this._loop = bindLoop(this._loop, this));
    return loop.createTask(this._waitBody(loop), { eagerStart: true });
  }

  /** Waits until `predicate()` is truthy (checked first, then after each wake-up); resolves to its value. */
  waitFor<V>(predicate: () => V): Task<V> {
    validateFunction(predicate, 'predicate');
    const loop = bindLoop(this._loop, this);
    return loop.createTask(this._waitForBody(loop, predicate), { eagerStart: true });
  }

  /** @internal waitFor's coroutine, also run inline by Barrier */
  *_waitForBody<V>(loop: EventLoop, predicate: () => V): Generator<unknown, V, unknown> {
    let result = predicate();
    while (!result) {
      if (!this.locked()) throw lockNotHeld('waitFor() on a Condition whose lock is not acquired');
      this._loop = loop;
      yield* this._waitBody(loop);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to `n` waiters (they return once they get the lock back). Requires the lock. */
  notify(n: number = 1): void {
    validateInteger(n, 'n', 0);
    if (!this.locked()) throw lockNotHeld('notify() on a Condition whose lock is not acquired');
    this._notify(n);
  }

  notifyAll(): void {
    this.notify(this._waiters.length);
  }

  private *_waitBody(loop: EventLoop): Generator<unknown, true, unknown> {
    const fut = new Waiter<boolean>(loop);
    this._lock.release();
    try {
      try {
        this._waiters.push(fut);
        yield* fut;
        return true;
      } finally {
        // Re-acquire even when cancelled; a cancellation meanwhile is re-raised once we hold it.
        let cancelled: CancelledError | null = null;
        for (;;) {
          try {
            yield* this._lock.acquire();
            break;
          } catch (e) {
            // eslint-disable-next-line no-unsafe-finally -- not a cancellation: nothing to re-acquire for
            if (!(e instanceof CancelledError)) throw e;
            cancelled = e;
          }
        }
        // asyncio's Condition.wait: the cancellation is re-raised only once the lock is held again.
        // eslint-disable-next-line no-unsafe-finally
        if (cancelled !== null) throw cancelled;
      }
    } catch (e) {
      this._notify(1);
      throw e;
    }
  }

  /** @internal */
  _notify(n: number): void {
    const waiters = this._waiters;
    for (let i = 0; i < n; i++) {
      const w = waiters.shift();
      if (w === null) break;
      w.setResult(false);
    }
  }

  toString(): string {
    const w = this._waiters.length;
    return `<Condition [${this.locked() ? 'locked' : 'unlocked'}${w !== 0 ? `, waiters:${w}` : ''}]>`;
  }
}

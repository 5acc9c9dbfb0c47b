// `use(fn)` of Lock, Condition and Semaphore: acquire, run fn, release on every exit path — as a
// Task, so it can be awaited, `yield*`-ed and cancelled (Pool.use's contract).
import type { Future } from '../core/future';
import { isGenerator, type Task } from '../core/task';
import type { AbstractEventLoop as EventLoop } from '../core/events';

export type Awaitable<V> = V | PromiseLike<V> | Generator<unknown, V, unknown>;

const GeneratorFunction = Object.getPrototypeOf(function* () {}).constructor as new () => unknown;

/** Acquired, then released once more than it was taken: a grant the caller never saw is given back. */
function releaseIfGranted(acquiring: Future<unknown>, release: () => void): void {
  if (acquiring.done() && !acquiring.cancelled() && acquiring.exception() === null) release();
}

/**
 * Runs `fn` holding what `acquire` grants. A generator function runs inside the task itself;
 * anything else is called from an async-function task, so a cancellation reaches the evloop
 * futures fn awaits (and the release waits until fn has really finished: a promise cannot be
 * stopped half-way, and mutual exclusion must hold until it settles).
 */
/** `fn` is validated by the caller (before the loop is looked up). */
export function useHeld<R>(loop: EventLoop, acquire: () => Future<unknown>, release: () => void, fn: () => Awaitable<R>): Task<R> {
  if (fn instanceof GeneratorFunction) {
    const body = function* (): Generator<unknown, R, unknown> {
      const acquiring = acquire();
      try {
        yield* acquiring;
      } catch (err) {
        releaseIfGranted(acquiring, release);
        throw err;
      }
      try {
        return yield* (fn() as Generator<unknown, R, unknown>);
      } finally {
        release();
      }
    };
    // Eager: an uncontended lock and a body that does not wait cost no loop pass.
    return loop.createTask(body(), { eagerStart: true }) as Task<R>;
  }
  return loop.createTask(async (): Promise<R> => {
    const acquiring = acquire();
    try {
      await acquiring;
    } catch (err) {
      releaseIfGranted(acquiring, release);
      throw err;
    }
    try {
      const r = fn();
      if (isGenerator<R>(r)) return (await loop.createTask(r)) as R;
      return await r;
    } finally {
      release();
    }
  }) as Task<R>;
}

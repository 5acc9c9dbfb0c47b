// asyncio's waiting helpers. Each returns a Future (never a bare Promise), so it can be awaited,
// yield*-ed and cancelled alike.
// Imported, not the global: the global `performance` is an accessor, a getter call per read.
import { performance } from 'node:perf_hooks';
import { Future, newYield, oneOrManyHolds, registerFutureClass } from './future';
import { PENDING, FINISHED } from './events';
import { invalidArgType, invalidArgValue, validateNumber } from '../util/validate';
import { getRunningLoop } from './running';
import { CancelledError, TimeoutError } from '../util/errors';
import { ensureFuture } from './task';
import type { AbstractEventLoop as EventLoop } from './events';
import type { PassFrame, TimerHandle, TimerOwner } from './handles';
import type { QueuedTimer } from './timer-queue';


/** What the combinators accept: an evloop Future or Task, a promise, or a generator coroutine. */
export type Awaitable<T = unknown> = PromiseLike<T> | Generator<unknown, T, any>;

/** The value awaiting `A` gives: a Future's, Task's or promise's value, a generator's return value. */
export type AwaitedResult<A> = A extends PromiseLike<infer T> ? T : A extends Generator<unknown, infer T, any> ? T : unknown;

/** gather's result: the awaitables' values, position by position (a tuple for a tuple). */
export type GatherResult<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedResult<A[K]> };

/** gather's result with `returnExceptions`: a failure (or CancelledError) stands in its slot. */
export type GatherSettledResult<A extends readonly unknown[]> = { -readonly [K in keyof A]: AwaitedResult<A[K]> | Error };

function checkMs(ms: unknown, name: string): number {
  return validateNumber(ms, name);
}

/**
 * The future sleep() returns, which is also its own timer in the loop's timer queue (one object
 * per sleep instead of a future, a TimerHandle and an argument array: a sleeping task's timer
 * lives through young-generation GCs, so every byte of it is copied). Cancelling it cancels the
 * timer. When it wakes — from the timer queue, or for sleep(0) from the ready queue one pass
 * after sleep() was called — it runs its waiters right there instead of scheduling them for one
 * more pass: a sleeping task resumes after exactly one hop, as asyncio's sleep(0) (a bare yield)
 * does.
 */
class SleepFuture<T> extends Future<T> implements QueuedTimer {
  constructor(loop: EventLoop) {
    super(loop, SLEEP_FUTURE);
  }

  /** @internal the timer is cancelled */ _cancelled = false;
  /** @internal the timer queue holding it (see QueuedTimer) */ _queue: TimerOwner | null = null;

  override cancel(msg?: string): boolean {
    // The value waiting in _result is no cancel's CancelledError (see Future._result).
    if (this._state === PENDING) this._result = undefined;
    if (this._queue !== null && !this._cancelled) {
      this._cancelled = true;
      this._queue.cancelled++;
    }
    return super.cancel(msg);
  }

  /**
   * @internal Run by the ready queue: while pending, only because it is due (its timer fired,
   * or sleep(0)'s pass came); once done, to run its done callbacks.
   */
  override _run(pass?: PassFrame): void {
    if (this._state !== PENDING) {
      super._run(pass);
      return;
    }
    // _result holds the value from the start (nothing reads it while the future is pending).
    this._state = FINISHED;
    super._run(pass);
  }
}

const SLEEP_FUTURE = registerFutureClass(SleepFuture);

/** Resolves to `value` after `ms` milliseconds (0 or less: after one pass of the loop). */
export function sleep<T = undefined>(ms: number, value?: T): Future<T> {
  checkMs(ms, 'ms');
  const loop = getRunningLoop();
  if (ms <= 0) {
    const yielded = newYield(loop, value as T);
    loop._pushReady(yielded);
    return yielded;
  }
  const fut = new SleepFuture<T>(loop);
  fut._result = value;
  loop._addTimer(fut, performance.now() + ms);
  return fut;
}

export interface GatherOptions {
  returnExceptions?: boolean;
}

/** gather()'s future: cancelling it cancels every child. */
class GatheringFuture<T> extends Future<T> {
  /** @internal */ _cancelRequested = false;
  constructor(
    loop: EventLoop,
    /** @internal each child once (a task cancelled twice counts two requests) */ public _children: Future<unknown>[],
  ) {
    super(loop, GATHERING_FUTURE);
  }
  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    let ret = false;
    for (const child of this._children) if (child.cancel(msg)) ret = true;
    // The gather ends (cancelled) once its children have settled.
    if (ret) this._cancelRequested = true;
    return ret;
  }
}

const GATHERING_FUTURE = registerFutureClass(GatheringFuture);

function isGatherOptions(x: unknown): x is GatherOptions {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Future) && typeof (x as { then?: unknown }).then !== 'function' && typeof (x as { next?: unknown }).next !== 'function';
}

/**
 * Runs awaitables concurrently; resolves to their results in argument order. `gather(a, b, c)`
 * or `gather([a, b, c], { returnExceptions })`. The first failure fails the gather unless
 * returnExceptions (then errors stand in the result array, cancellations as CancelledError).
 */
export function gather<A extends readonly Awaitable[] | []>(aws: A, options: GatherOptions & { returnExceptions: true }): Future<GatherSettledResult<A>>;
export function gather<A extends readonly Awaitable[] | []>(aws: A, options?: GatherOptions & { returnExceptions?: false }): Future<GatherResult<A>>;
export function gather<A extends readonly Awaitable[] | []>(aws: A, options: GatherOptions): Future<GatherSettledResult<A>>;
export function gather<A extends readonly Awaitable[]>(...aws: A): Future<GatherResult<A>>;
export function gather<T extends readonly unknown[]>(...args: unknown[]): Future<T> {
  let aws: unknown[];
  let returnExceptions = false;
  if (Array.isArray(args[0]) && (args.length === 1 || (args.length === 2 && isGatherOptions(args[1])))) {
    aws = args[0] as unknown[];
    returnExceptions = Boolean((args[1] as GatherOptions | undefined)?.returnExceptions);
  } else {
    aws = args;
  }
  const loop = getRunningLoop();
  if (aws.length === 0) {
    const outer = new Future<T>(loop);
    outer.setResult([] as unknown as T);
    return outer;
  }
  // Distinct awaitables make distinct futures (a Future stands for itself; anything else gets a
  // new one, found again through the map when repeated). Made at its final size: an array grown
  // by push leaves its outgrown copies behind, and the gather keeps it (and a gather of many
  // sleeping tasks lives through the GCs they do); a second array, of the distinct ones, only at a repeat.
  const n = aws.length;
  // (Past 64K slots `new Array(n)` would start with dictionary elements: filled in order, it grows as push does.)
  const children: Future<unknown>[] = n <= 65536 ? new Array<Future<unknown>>(n) : [];
  let made: Map<unknown, Future<unknown>> | null = null;
  for (let i = 0; i < n; i++) {
    const aw = aws[i];
    let f: Future<unknown> | undefined;
    if (aw instanceof Future) {
      f = ensureFuture(aw, loop);
    } else {
      made ??= new Map();
      f = made.get(aw);
      if (f === undefined) {
        f = ensureFuture(aw, loop);
        made.set(aw, f);
      }
    }
    children[i] = f;
  }
  // Its children as listed, unless some are listed twice: then `unique` (built at the first repeat).
  const outer = new GatheringFuture<T>(loop, children);
  let unique: Future<unknown>[] | null = null;
  let finished = 0;
  const onChildDone = (fut: Future<unknown>): void => {
    finished++;
    if (outer.done()) {
      if (!fut.cancelled()) fut.exception(); // mark retrieved
      return;
    }
    if (!returnExceptions) {
      if (fut.cancelled()) {
        outer.setException(fut._makeCancelledError());
        return;
      }
      if (fut._failed) {
        outer._setException(fut.exception());
        return;
      }
    }
    if (finished === outer._children.length) {
      const results = children.map((c) => (c.cancelled() ? c._makeCancelledError() : c._failed ? c.exception() : c._result));
      if (outer._cancelRequested) outer.setException(fut.cancelled() ? fut._makeCancelledError() : new CancelledError());
      else outer.setResult(results as unknown as T);
    }
  };
  // Each future is counted once, however often it is listed: a pending one that already has
  // onChildDone is a repeat (no map of thousands of futures to build), and so is a done one
  // seen before.
  let doneSeen: Set<Future<unknown>> | null = null;
  for (let i = 0; i < n; i++) {
    const f = children[i]!;
    let repeat = false;
    if (f._state === PENDING) {
      if (oneOrManyHolds(f._callbacks, onChildDone)) repeat = true;
      else f._addCallbackInternal(onChildDone);
    } else {
      doneSeen ??= new Set();
      if (doneSeen.has(f)) repeat = true;
      else {
        doneSeen.add(f);
        loop.callSoon(onChildDone, f);
      }
    }
    if (repeat) {
      unique ??= children.slice(0, i);
      continue;
    }
    if (unique !== null) unique.push(f);
  }
  if (unique !== null) outer._children = unique;
  return outer;
}

export type ReturnWhen = 'FIRST_COMPLETED' | 'FIRST_EXCEPTION' | 'ALL_COMPLETED';
export const FIRST_COMPLETED = 'FIRST_COMPLETED';
export const FIRST_EXCEPTION = 'FIRST_EXCEPTION';
export const ALL_COMPLETED = 'ALL_COMPLETED';

export interface WaitOptions {
  timeout?: number | null;
  returnWhen?: ReturnWhen;
}

/**
 * Waits for the awaitables until `returnWhen` holds or `timeout` ms pass; resolves to
 * `[done, pending]` (Sets of futures). A timeout does not throw; nothing is cancelled.
 */
export function wait<A extends Awaitable>(aws: Iterable<A>, options?: WaitOptions): Future<[Set<Future<AwaitedResult<A>>>, Set<Future<AwaitedResult<A>>>]>;
export function wait<T>(aws: Iterable<unknown>, options: WaitOptions = {}): Future<[Set<Future<T>>, Set<Future<T>>]> {
  if (aws === null || typeof aws !== 'object' || typeof (aws as Iterable<unknown>)[Symbol.iterator] !== 'function' || aws instanceof Future) {
    throw invalidArgType('aws', 'an iterable of awaitables', aws);
  }
  const returnWhen = options.returnWhen ?? ALL_COMPLETED;
  if (returnWhen !== FIRST_COMPLETED && returnWhen !== FIRST_EXCEPTION && returnWhen !== ALL_COMPLETED) {
    throw invalidArgValue('returnWhen', returnWhen, 'must be one of FIRST_COMPLETED, FIRST_EXCEPTION, ALL_COMPLETED');
  }
  const timeout = options.timeout ?? null;
  if (timeout !== null) checkMs(timeout, 'timeout');
  const loop = getRunningLoop();
  const fs = new Set<Future<T>>();
  for (const aw of aws) fs.add(ensureFuture<T>(aw, loop));
  if (fs.size === 0) throw invalidArgValue('aws', aws, 'must not be empty');

  const outer = new Future<[Set<Future<T>>, Set<Future<T>>]>(loop);
  let counter = fs.size;
  let timer: TimerHandle | null = null;
  const finish = (): void => {
    if (timer !== null) timer.cancel();
    for (const f of fs) f.removeDoneCallback(onCompletion);
    if (outer.done()) return;
    const done = new Set<Future<T>>();
    const pending = new Set<Future<T>>();
    for (const f of fs) (f.done() ? done : pending).add(f);
    outer.setResult([done, pending]);
  };
  const onCompletion = (f: Future<T>): void => {
    counter--;
    if (counter <= 0 || returnWhen === FIRST_COMPLETED || (returnWhen === FIRST_EXCEPTION && !f.cancelled() && f._failed)) finish();
  };
  if (timeout !== null) timer = loop.callLater(timeout, finish);
  for (const f of fs) f.addDoneCallback(onCompletion);
  outer._addCallbackInternal(() => {
    if (outer.cancelled()) finish();
  });
  return outer;
}

/**
 * Protects `aw` from cancellation: cancelling the returned future does not cancel `aw`
 * (which keeps running; await it again to get its result).
 */
export function shield<A extends Awaitable>(aw: A): Future<AwaitedResult<A>>;
export function shield<T>(aw: unknown): Future<T> {
  const loop = getRunningLoop();
  const inner = ensureFuture<T>(aw, loop);
  if (inner.done()) return inner;
  const outer = new Future<T>(inner._loop);
  const innerDone = (): void => {
    if (outer.cancelled()) {
      if (!inner.cancelled()) inner.exception(); // mark retrieved
      return;
    }
    if (outer.done()) return;
    outer._copyStateFrom(inner);
  };
  inner._addCallbackInternal(innerDone);
  outer._addCallbackInternal(() => {
    if (!inner.done()) inner.removeDoneCallback(innerDone);
  });
  return outer;
}

export interface AsCompletedOptions {
  timeout?: number | null;
}

/**
 * The awaitables' outcomes in completion order: an array of futures, the i-th settling like the
 * i-th awaitable to finish. After `timeout` ms the ones not yet settled fail with TimeoutError.
 */
export function asCompleted<A extends Awaitable>(aws: Iterable<A>, options?: AsCompletedOptions): Future<AwaitedResult<A>>[];
export function asCompleted<T>(aws: Iterable<unknown>, options: AsCompletedOptions = {}): Future<T>[] {
  if (aws === null || typeof aws !== 'object' || typeof (aws as Iterable<unknown>)[Symbol.iterator] !== 'function' || aws instanceof Future) {
    throw invalidArgType('aws', 'an iterable of awaitables', aws);
  }
  const timeout = options.timeout ?? null;
  if (timeout !== null) checkMs(timeout, 'timeout');
  const loop = getRunningLoop();
  const todo = new Set<Future<T>>();
  for (const aw of aws) todo.add(ensureFuture<T>(aw, loop));
  const slots: Future<T>[] = [];
  for (let i = 0; i < todo.size; i++) slots.push(new Future<T>(loop));
  let next = 0;
  let timer: TimerHandle | null = null;
  const onCompletion = (f: Future<T>): void => {
    if (!todo.delete(f)) return;
    const slot = slots[next++]!;
    if (slot.done()) {
      if (!f.cancelled()) f.exception();
      return;
    }
    slot._copyStateFrom(f);
    if (todo.size === 0 && timer !== null) timer.cancel();
  };
  if (timeout !== null && todo.size !== 0) {
    timer = loop.callLater(timeout, () => {
      for (const f of todo) f.removeDoneCallback(onCompletion);
      todo.clear();
      while (next < slots.length) {
        const slot = slots[next++]!;
        if (!slot.done()) slot.setException(new TimeoutError());
      }
    });
  }
  for (const f of todo) f.addDoneCallback(onCompletion);
  return slots;
}

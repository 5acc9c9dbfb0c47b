// asyncio.Future: a result that does not exist yet, with asyncio's state machine.
// It is PromiseLike (await) and Iterable (yield* in generator coroutines).
import { CancelledError, EventLoopError, InvalidStateError } from '../util/errors';
import { invalidArgType, validateFunction } from '../util/validate';
import { asyncContextCarrier, current, type Frame } from './context';
import { PENDING, CANCELLED, FINISHED, type AbstractEventLoop } from './events';
import { getRunningLoop } from './running';
import { isNativeError } from 'util/types';

export type FutureState = 'PENDING' | 'CANCELLED' | 'FINISHED';
export type DoneCallback<F> = (fut: F) => void;

export { PENDING, CANCELLED, FINISHED };
const STATE_NAMES: readonly FutureState[] = ['PENDING', 'CANCELLED', 'FINISHED'];

// Debug mode only: an exception nobody looked at is reported when its future is collected.
interface Unretrieved {
  loop: AbstractEventLoop;
  exception: unknown;
  kind: string;
}
const unretrieved = new FinalizationRegistry<Unretrieved>((info) => {
  if (info.loop.isClosed()) return;
  info.loop.callExceptionHandler({ message: `${info.kind} exception was never retrieved`, exception: info.exception });
});

// new Promise(captureResolvers) hands its resolving functions over without a closure per call.
let capturedResolve: ((v: any) => void) | null = null;
let capturedReject: ((e: unknown) => void) | null = null;
function captureResolvers(resolve: (v: any) => void, reject: (e: unknown) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

/**
 * The iterator behind `yield* fut`: yields the future itself to the driving Task once, then
 * returns its result (throwing its exception). A cancellation thrown in by the Task passes through.
 */
class FutureIter<T> implements Iterator<Future<T>, T, unknown> {
  private yielded = false;
  constructor(private readonly fut: Future<T>) {}
  next(): IteratorResult<Future<T>, T> {
    if (!this.yielded && this.fut._state === PENDING) {
      this.yielded = true;
      return { value: this.fut, done: false };
    }
    if (this.fut._state === PENDING) throw new EventLoopError('yield* was not used with a Task driving the generator', 'ERR_NOT_DRIVEN');
    return { value: this.fut.result(), done: true };
  }
  throw(err: unknown): IteratorResult<Future<T>, T> {
    throw err;
  }
  return(value?: unknown): IteratorResult<Future<T>, T> {
    return { value: value as T, done: true };
  }
  [Symbol.iterator](): this {
    return this;
  }
}

export class Future<T = unknown> implements PromiseLike<T>, Iterable<Future<T>> {
  /** @internal */ _state = PENDING;
  /** @internal */ _result: T | undefined = undefined;
  /** @internal */ _exception: unknown = undefined;
  /** @internal */ _failed = false;
  /** @internal */ _loop: AbstractEventLoop;
  /** @internal */ _callbacks: ((fut: any) => void)[] | null = null;
  /** @internal */ _scheduled: ((fut: any) => void)[] | null = null;
  /** @internal */ _cancelMessage: string | undefined = undefined;
  /** @internal */ _cancelledExc: CancelledError | null = null;
  /** @internal */ _tracked = false;
  /** @internal the promise job in which `then` was last read while done, else -1 (see the accessor below) */ _thenJob = -1;

  constructor(loop?: AbstractEventLoop) {
    this._loop = loop === undefined ? getRunningLoop() : loop;
  }

  getLoop(): AbstractEventLoop {
    return this._loop;
  }

  done(): boolean {
    return this._state !== PENDING;
  }

  cancelled(): boolean {
    return this._state === CANCELLED;
  }

  /** 'PENDING' | 'CANCELLED' | 'FINISHED', as asyncio's `_state`. */
  get state(): FutureState {
    return STATE_NAMES[this._state]!;
  }

  result(): T {
    if (this._state === CANCELLED) throw this._makeCancelledError();
    if (this._state !== FINISHED) throw new InvalidStateError('Result is not ready.');
    if (this._failed) {
      this._retrieved();
      throw this._exception;
    }
    return this._result as T;
  }

  /** The exception the future failed with, or `null` when it succeeded. */
  exception(): unknown {
    if (this._state === CANCELLED) throw this._makeCancelledError();
    if (this._state !== FINISHED) throw new InvalidStateError('Exception is not set.');
    if (!this._failed) return null;
    this._retrieved();
    return this._exception;
  }

  cancel(msg?: string): boolean {
    if (this._state !== PENDING) return false;
    this._state = CANCELLED;
    this._cancelMessage = msg;
    this._scheduleCallbacks();
    return true;
  }

  setResult(value: T): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    this._result = value;
    this._state = FINISHED;
    this._scheduleCallbacks();
  }

  /** `exception` must be an Error (or an Error class, instantiated): asyncio only lets exceptions be set. */
  setException(exception: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    if (typeof exception === 'function' && (exception === Error || exception.prototype instanceof Error)) {
      exception = new (exception as new () => Error)();
    } else if (!(exception instanceof Error) && !isNativeError(exception)) {
      throw invalidArgType('exception', 'an instance of Error or an Error class', exception);
    }
    this._setException(exception);
  }

  /** @internal Fails with whatever a coroutine threw or a promise rejected with (any value: JS can throw anything). */
  _setException(exception: unknown): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    this._exception = exception;
    this._failed = true;
    this._state = FINISHED;
    if (this._loop._debug) this._track('Future');
    this._scheduleCallbacks();
  }

  addDoneCallback(cb: DoneCallback<this>): void {
    validateFunction(cb, 'callback');
    if (this._state !== PENDING) {
      this._loop.callSoon(cb, this);
    } else if (this._callbacks === null) {
      this._callbacks = [cb];
    } else {
      this._callbacks.push(cb);
    }
  }

  /** Removes every registration of `cb`; returns how many there were. */
  removeDoneCallback(cb: DoneCallback<this>): number {
    const cbs = this._callbacks;
    if (cbs === null) return 0;
    let kept = 0;
    for (let i = 0; i < cbs.length; i++) {
      if (cbs[i] !== cb) cbs[kept++] = cbs[i]!;
    }
    const removed = cbs.length - kept;
    cbs.length = kept;
    return removed;
  }

  /**
   * `await fut`. The continuation is resumed from a loop callback (scheduled with callSoon once
   * the future is done), as asyncio resumes a task. Called from an async-function task's
   * frame, it also tells that task which future it awaits, so cancel() can reach it.
   * A future that is already done settles the returned promise through a native promise (one
   * microtask, as `await` of a resolved promise): nothing is left to cancel.
   */
  then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    // The hooks carrier: the frame is current here even in V8's thenable job, and jobs are counted.
    return this._then(onFulfilled, onRejected, current.frame, this._thenJob !== -1 && this._thenJob !== current.job);
  }

  /**
   * @internal then() for a reader in `frame` (null: none); `fromLaterJob`: the `then` read
   * happened while the future was done, and this call runs in a later promise job (V8's thenable
   * job of an `await`), so settling at once is still asynchronous to the awaiting code.
   */
  _then<R1, R2>(
    onFulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
    onRejected: ((reason: any) => R2 | PromiseLike<R2>) | null | undefined,
    frame: Frame | null,
    fromLaterJob: boolean,
  ): Promise<R1 | R2> {
    const task = frame !== null ? frame.task : null;
    if (this._state !== PENDING) {
      if (this._state === FINISHED && !this._failed) {
        const v = this._result;
        // A thenable result must reach onFulfilled as the object itself (not adopted): slow path.
        if (v === null || (typeof v !== 'object' && typeof v !== 'function') || typeof (v as { then?: unknown }).then !== 'function') {
          if (fromLaterJob) return callNow(onFulfilled, v);
          return Promise.resolve(v).then(onFulfilled as (value: unknown) => R1 | PromiseLike<R1>, onRejected);
        }
      } else {
        if (fromLaterJob && typeof onRejected === 'function') return callNow(onRejected, this._failure());
        return Promise.reject(this._failure()).then(onFulfilled, onRejected);
      }
    }
    if (task !== null && task._state === PENDING && current.stepTask === null) {
      if ((task as unknown) === this) {
        const err = new EventLoopError(`Task cannot await on itself: ${this}`, 'ERR_TASK_AWAIT_SELF');
        return Promise.reject(err).then(onFulfilled, onRejected);
      }
      // A cancel requested while nothing was awaited cancels this future here (see settle).
      task._awaiting(this);
    }
    const promise = new Promise<R1 | R2>(captureResolvers);
    const resolve = capturedResolve as (v: unknown) => void;
    const reject = capturedReject as (e: unknown) => void;
    const settle = (): void => {
      if (task !== null) task._awaited(this);
      if (this._state === FINISHED && !this._failed) {
        if (typeof onFulfilled !== 'function') return resolve(this._result);
        try {
          resolve(onFulfilled(this._result as T));
        } catch (e) {
          reject(e);
        }
        return;
      }
      const err = this._failure();
      if (typeof onRejected !== 'function') return reject(err);
      try {
        resolve(onRejected(err));
      } catch (e) {
        reject(e);
      }
    };
    if (this._state === PENDING) this._addCallbackInternal(settle);
    else queueMicrotask(settle);
    return promise;
  }

  catch<R = never>(onRejected?: ((reason: any) => R | PromiseLike<R>) | null): Promise<T | R> {
    return this.then(undefined, onRejected);
  }

  finally(onFinally?: (() => void) | null): Promise<T> {
    return Promise.resolve(this).finally(onFinally);
  }

  [Symbol.iterator](): Iterator<Future<T>, T, unknown> {
    return new FutureIter(this);
  }

  toString(): string {
    const name = this.constructor.name;
    if (this._state === PENDING) return `<${name} pending>`;
    if (this._state === CANCELLED) return `<${name} cancelled>`;
    if (this._failed) return `<${name} finished exception=${repr(this._exception)}>`;
    return `<${name} finished result=${repr(this._result)}>`;
  }

  // ---- internals shared with Task, the loop and the combinators ----

  /** @internal A done callback that is never exposed (cheaper than addDoneCallback's checks). */
  _addCallbackInternal(cb: (fut: any) => void): void {
    if (this._callbacks === null) this._callbacks = [cb];
    else this._callbacks.push(cb);
  }

  /** @internal What awaiting a done, unsuccessful future raises (marks an exception retrieved). */
  _failure(): unknown {
    if (this._state === CANCELLED) return this._makeCancelledError();
    this._retrieved();
    return this._exception;
  }

  /** @internal */
  _makeCancelledError(): CancelledError {
    if (this._cancelledExc !== null) return this._cancelledExc;
    return new CancelledError(this._cancelMessage);
  }

  /** @internal The loop runs the future itself as one ready-queue entry: all its done callbacks, in order. */
  _run(): void {
    const cbs = this._scheduled;
    if (cbs === null) return;
    this._scheduled = null;
    for (let i = 0; i < cbs.length; i++) {
      try {
        cbs[i]!(this);
      } catch (exception) {
        this._loop.callExceptionHandler({ message: `Exception in callback of ${this}`, exception, future: this });
      }
    }
  }

  /** @internal */
  _scheduleCallbacks(): void {
    const cbs = this._callbacks;
    if (cbs === null) return;
    this._callbacks = null;
    this._scheduled = cbs;
    this._loop._pushReady(this);
  }

  /** @internal */
  _retrieved(): void {
    if (this._tracked) {
      this._tracked = false;
      unretrieved.unregister(this);
    }
  }

  /** @internal */
  _track(kind: string): void {
    this._tracked = true;
    unretrieved.register(this, { loop: this._loop, exception: this._exception, kind }, this);
  }

  /** @internal Settles as `src` did (result, exception or cancellation). */
  _copyStateFrom(src: Future<T>): void {
    if (this._state !== PENDING) return;
    if (src._state === CANCELLED) {
      this.cancel(src._cancelMessage);
    } else if (src._failed) {
      src._retrieved();
      this._setException(src._exception);
    } else {
      this.setResult(src._result as T);
    }
  }
}

// `await fut` reads fut.then in the awaiting code, and V8 calls it later, from a promise job of
// its own (PromiseResolveThenableJob) that has nothing else to do: a done future can call the
// await's resolving function right there, saving two microtask hops (await of a done future:
// one hop more than a native promise instead of three). A then() called in the job that read
// the property — every explicit `fut.then(cb)` — keeps the asynchronous path Promises/A+ asks
// for. Only a future already done when `then` was read is shortcut: one that finishes in
// between (e.g. sleep(0) woken by a pass that ran before the job) resumes no earlier, relative
// to the tasks it woke alongside, than it always did.
//
// How the call tells the thenable job from the reading code, and learns the awaiting task,
// depends on the frame carrier (context.ts):
// - hooks: jobs are counted by the before hook (with the hooks off the count never moves and
//   every call takes the asynchronous path), and the hooks restore the frame in the job too.
// - embedder data: V8 does not carry it into the thenable job, so a read inside a frame returns
//   a then bound to that frame (one closure per `await` in a task, in place of a hook call per
//   promise). The job runs with no frame, which is also how the call knows it is the job: a
//   frame is only ever cleared by V8 between jobs. A read outside any frame returns the method.
const thenMethod = Future.prototype.then;
function thenReadWithHooks(this: Future<unknown>): Future<unknown>['then'] {
  this._thenJob = this._state === PENDING ? -1 : current.job;
  return thenMethod;
}
function thenReadWithEmbedderData(this: Future<unknown>): Future<unknown>['then'] {
  const frame = current.frame;
  if (frame === null) {
    this._thenJob = -1;
    return thenMethod;
  }
  const fut = this;
  const wasDone = fut._state !== PENDING;
  return function then(onFulfilled, onRejected) {
    return fut._then(onFulfilled, onRejected, frame, wasDone && current.frame !== frame);
  } as Future<unknown>['then'];
}
Object.defineProperty(Future.prototype, 'then', {
  configurable: true,
  enumerable: false,
  get: asyncContextCarrier === 'hooks' ? thenReadWithHooks : thenReadWithEmbedderData,
});

function callNow<R>(fn: ((value: any) => R | PromiseLike<R>) | null | undefined, value: unknown): Promise<any> {
  if (typeof fn !== 'function') return Promise.resolve(value);
  try {
    return Promise.resolve(fn(value));
  } catch (e) {
    return Promise.reject(e);
  }
}

/** True for evloop Futures and Tasks. */
export function isFuture(x: unknown): x is Future<unknown> {
  return x instanceof Future;
}

/** A short repr of a value for toString(), as asyncio's reprlib. */
function repr(x: unknown): string {
  if (x instanceof Error) return `${x.name}(${JSON.stringify(x.message)})`;
  if (typeof x === 'string') return JSON.stringify(x.length > 60 ? x.slice(0, 57) + '...' : x);
  if (x === null || typeof x !== 'object') return String(x);
  return Object.prototype.toString.call(x);
}


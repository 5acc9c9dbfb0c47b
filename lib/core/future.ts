// asyncio.Future: a result that does not exist yet, with asyncio's state machine.
// It is PromiseLike (await) and Iterable (yield* in generator coroutines).
import { CancelledError, EventLoopError, InvalidStateError } from '../util/errors';
import { invalidArgType, validateFunction } from '../util/validate';
import { asyncContextCarrier, current as runningContext, noteAwaitWithoutTask, type Frame } from './context';
import { PENDING as PENDING_STATE, CANCELLED as CANCELLED_STATE, FINISHED as FINISHED_STATE, type AbstractEventLoop, type AwaitingTask } from './events';
import type { PassFrame } from './handles';
import { getRunningLoop } from './running';
import { isNativeError } from 'util/types';

export type FutureState = 'PENDING' | 'CANCELLED' | 'FINISHED';
/**
 * @internal A done callback kept inside evloop: a function, or an object told through its
 * _futureDone method (a Task waiting on the future is its own callback: no closure per task).
 */
export type DoneListener = ((fut: any) => void) | { _futureDone(fut: any): void };
/** @internal A future's done callbacks: none, one, or more in order. */
export type Callbacks = DoneListener | DoneListener[] | null;

/** @internal Whether a one-or-many slot (a future's callbacks, a task's awaited futures) holds `item`. */
export function oneOrManyHolds<T>(slot: T | T[] | null, item: T): boolean {
  return slot === item || (Array.isArray(slot) && slot.includes(item));
}

/** @internal `cbs` with `cb` appended. */
export function appendCallback(cbs: Callbacks, cb: DoneListener): Callbacks {
  if (cbs === null) return cb;
  if (!Array.isArray(cbs)) return [cbs, cb];
  cbs.push(cb);
  return cbs;
}
export type DoneCallback<F> = (fut: F) => void;

const STATE_NAMES: readonly FutureState[] = ['PENDING', 'CANCELLED', 'FINISHED'];

// Constants the hot paths read are module constants, which optimized code folds: an imported
// one is a field load of the other module's exports object (and a Smi check) at every use, and
// so is an `export const` used in its own module (TypeScript writes its uses as `exports.X`):
// the exports object's fields are written twice (`void 0` first), so V8 does not fold them.
const PENDING = PENDING_STATE;
const CANCELLED = CANCELLED_STATE;
const FINISHED = FINISHED_STATE;
const current = runningContext;

// Future._flags (exported below).
/** @internal finished with an exception (in _result) */ const FAILED = 1;
/** @internal the exception is reported if never retrieved (debug mode) */ const TRACKED = 2;
/** @internal sleep(0): awaiting code resumes two microtask hops after the pass (see settleNative) */ const YIELD_RESUME = 4;
/** @internal the native promise is observed (awaited, then()): it settles when the future is done */ const OBSERVED = 8;
// Task's own, in the same field (a task has fields enough: each costs every task its store, and
// every `await task` a longer search, see FutureMethods).
/** @internal a cancel is to be thrown in at the task's next step or await (asyncio's _must_cancel) */ const MUST_CANCEL = 16;
/** @internal the task keeps the promise hooks installed (context.ts) */ const HOLDS_FRAMES = 32;
/**
 * @internal When a step that a future woke ends the task, the tasks waiting on it are woken at
 * once, not by the loop one pass later (its other done callbacks are left to the loop): a task
 * standing for a part of its caller's work (Pool.use)
 */ const WAKE_WAITING_TASKS = 64;
/** @internal a WAKE_WAITING_TASKS task's step woken by a future runs (see Task._futureDone) */ const WOKEN_STEP = 128;
/**
 * @internal Finished with a result that the generator task it woke never took: a cancel was
 * thrown in at that step instead (Task._step). Whoever handed the result over may take it back
 * (a stream read gives its bytes back to the buffer).
 */ const UNCLAIMED = 256;
export { FAILED, TRACKED, YIELD_RESUME, OBSERVED, MUST_CANCEL, HOLDS_FRAMES, WAKE_WAITING_TASKS, WOKEN_STEP, UNCLAIMED };

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

// A Promise's resolving functions are handed over by its executor into a holder object, which
// the constructor reads and empties at once (no code runs in between). The holder must be young:
// a new function stored into a long-lived object (a module variable) takes a write barrier that
// records the slot for the next young-generation GC (callgrind: ~100 instructions per future
// for the two). A holder made per future would cost its bytes (and a closure or bound function
// to reach it: a closure made per future runs V8's lazy-compile stub on its one call, ~60
// instructions), so one holder serves HOLDER_USES futures: far fewer than a young-generation GC
// sees made, so it is almost always replaced before it is old enough to need the barrier.
interface Resolvers {
  resolve: (v: any) => void;
  reject: (e: unknown) => void;
}
const HOLDER_USES = 32;
let holder: Resolvers = { resolve: noopResolver, reject: noopResolver };
let handOvers = 0;
function storeResolvers(resolve: (v: any) => void, reject: (e: unknown) => void): void {
  const held = holder;
  held.resolve = resolve;
  held.reject = reject;
}
/** The executor for a promise about to be made; its resolving functions are in `holder` after. */
function resolversExecutor(): (resolve: (v: any) => void, reject: (e: unknown) => void) => void {
  if (++handOvers === HOLDER_USES) {
    handOvers = 0;
    holder = { resolve: noopResolver, reject: noopResolver };
  }
  return storeResolvers;
}
function noopResolver(): void {}

/**
 * The iterator behind `yield* fut`: yields the future itself to the driving Task once, then
 * returns its result (throwing its exception). A cancellation thrown in by the Task passes through.
 * It is also the iterator result its next() returns (`yield*` reads `done` and `value` from it at
 * once, and hands it to the Task as it is): one object per `yield*` instead of three.
 */
class FutureIter<T> implements Iterator<Future<T>, T, unknown> {
  value: Future<T> | T;
  done = false;
  private yielded = false;
  constructor(private readonly fut: Future<T>) {
    this.value = fut;
  }
  next(): IteratorResult<Future<T>, T> {
    const fut = this.fut;
    if (!this.yielded && fut._state === PENDING) {
      this.yielded = true;
      return this as IteratorYieldResult<Future<T>>;
    }
    if (fut._state === PENDING) throw new EventLoopError('yield* was not used with a Task driving the generator', 'ERR_NOT_DRIVEN');
    this.value = fut.result();
    this.done = true;
    return this as IteratorReturnResult<T>;
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

/**
 * A Future's state and methods. Future itself (below) adds only its constructor and what V8 reads
 * at `await`: V8 looks `constructor` up on the future at every `await` (see makeAwaitable), and
 * that lookup costs with the size of each object it searches (callgrind: ~100 instructions
 * per await with the ~30 methods on the same prototype as the accessor).
 */
export class FutureMethods<T = unknown> extends Promise<T> implements Iterable<Future<T>> {
  // Declared only: initFields (below) sets them, in this order, for every class.
  // Eight fields: each one costs every future its store and 8 bytes, and every `await` of one a
  // longer search of its fields (V8 looks `constructor` up on the object first).
  /** @internal */ declare _state: number;
  /**
   * @internal The result. Failed, the exception (FAILED is set); cancelled, the cancel's
   * message or CancelledError (see _makeCancelledError), which a task asked to cancel keeps
   * there while pending (see Task.cancel).
   */
  declare _result: T | undefined;
  /** @internal FAILED, TRACKED, YIELD_RESUME, OBSERVED; a Task's MUST_CANCEL, HOLDS_FRAMES */ declare _flags: number;
  /** @internal */ declare _loop: AbstractEventLoop;
  // One callback is kept as is, more in an array: most futures get exactly one (the await's
  // settleNative, a task's wakeup, gather's), and a sleeping task's array would be copied by
  // every young-generation GC it lives through.
  /**
   * @internal Pending, the done callbacks added; done, those queued with the future on the loop
   * and not run yet (null once run). Nothing is added to a done future's (addDoneCallback
   * schedules its own entry), so one field serves both: a field less in every future.
   */
  declare _callbacks: Callbacks;
  /** @internal the async-function task whose `await` of this future has not resumed yet */ declare _awaiter: AwaitingTask | null;
  /** @internal */ declare _resolveNative: (v: unknown) => void;
  /** @internal */ declare _rejectNative: (e: unknown) => void;
  /** @internal the class name (the prototype's `constructor` is the accessor below) */ declare _className: string;

  /** @internal Finished with an exception (in _result). */
  get _failed(): boolean {
    return (this._flags & FAILED) !== 0;
  }

  /** @internal An unretrieved exception is reported when the future is collected (debug mode). */
  get _tracked(): boolean {
    return (this._flags & TRACKED) !== 0;
  }

  /** @internal The exception, once failed. */
  get _exception(): unknown {
    return (this._flags & FAILED) !== 0 ? this._result : undefined;
  }

  /** @internal The CancelledError to raise, set just before cancel() (a coroutine's own, kept as is). */
  set _cancelledExc(e: CancelledError) {
    (this as FutureMethods<unknown>)._result = e;
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
    if ((this._flags & FAILED) !== 0) {
      this._retrieved();
      throw this._result;
    }
    return this._result as T;
  }

  /** The exception the future failed with, or `null` when it succeeded. */
  exception(): unknown {
    if (this._state === CANCELLED) throw this._makeCancelledError();
    if (this._state !== FINISHED) throw new InvalidStateError('Exception is not set.');
    if ((this._flags & FAILED) === 0) return null;
    this._retrieved();
    return this._result;
  }

  cancel(msg?: string): boolean {
    if (this._state !== PENDING) return false;
    this._state = CANCELLED;
    if (!(this._result instanceof CancelledError)) (this as FutureMethods<unknown>)._result = msg;
    this._scheduleCallbacks();
    return true;
  }

  setResult(value: T): void {
    this._finishWith(value);
    this._scheduleCallbacks();
  }

  /** @internal What setResult and its variants share: asyncio's state check, then the result. */
  _finishWith(value: T): void {
    if (this._state !== PENDING) throw new InvalidStateError(`${STATE_NAMES[this._state]}: ${this}`);
    this._result = value;
    this._state = FINISHED;
  }

  /**
   * @internal setResult for a future evloop made for one waiting read (a stream's): when its one
   * done callback is an `await`'s and the loop allows it (EventLoop._wakeNow, nothing queued
   * for the next pass), its native promise is settled now rather than by a ready-queue entry of
   * the next pass: the awaiting code resumes after this pass either way, ahead of what is queued
   * later, as asyncio would run its task (callgrind: the entry, its pass and its settling call
   * cost ~300 instructions a message in the async echo server). Not for futures whose grant can be
   * revoked while queued (sync's Waiter): that needs the entry.
   */
  _setResultWaking(value: T): void {
    this._finishWith(value);
    const loop = this._loop;
    if (this._callbacks === settleNative && loop._wakeNow && loop._readyLen === 0 && (this._flags & YIELD_RESUME) === 0) {
      this._callbacks = null;
      resolveAwaited(this as Future<unknown>);
      return;
    }
    this._scheduleCallbacks();
  }

  /**
   * @internal setResult with the done callbacks run now, not from a loop entry: for a caller that
   * is itself the reaction the callbacks would wait a pass for (Pool.use's watcher of fn's
   * promise). No entry is queued, so none holds the future until the loop runs.
   */
  _setResultNow(value: T): void {
    this._finishWith(value);
    this._run();
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
    (this as FutureMethods<unknown>)._result = exception;
    this._flags |= FAILED;
    this._state = FINISHED;
    if (this._loop._debug) this._track('Future');
    this._scheduleCallbacks();
  }

  addDoneCallback(cb: DoneCallback<this>): void {
    validateFunction(cb, 'callback');
    if (this._state !== PENDING) {
      this._loop.callSoon(cb, this);
    } else {
      this._callbacks = appendCallback(this._callbacks, cb);
    }
  }

  /** Removes every registration of `cb`; returns how many there were. */
  removeDoneCallback(cb: DoneCallback<this>): number {
    const cbs = this._callbacks;
    // Done, they are queued already (asyncio's list is emptied when they are scheduled).
    if (cbs === null || this._state !== PENDING) return 0;
    if (!Array.isArray(cbs)) {
      if (cbs !== cb) return 0;
      this._callbacks = null;
      return 1;
    }
    let kept = 0;
    for (let i = 0; i < cbs.length; i++) {
      if (cbs[i] !== cb) cbs[kept++] = cbs[i]!;
    }
    const removed = cbs.length - kept;
    cbs.length = kept;
    return removed;
  }

  /**
   * An explicit `fut.then(f, r)` (not `await fut`: V8 awaits the native promise without calling
   * then). It keeps the future's own semantics: `f` gets the result as it was set — a thenable
   * result is passed as is, not adopted — and is called from a loop callback once the future is
   * done (a microtask later when it is done already). Called in an async-function task's frame,
   * it registers the future as awaited by that task, as `await` does.
   */
  override then<R1 = T, R2 = never>(
    onFulfilled?: ((value: T) => R1 | PromiseLike<R1>) | null,
    onRejected?: ((reason: any) => R2 | PromiseLike<R2>) | null,
  ): Promise<R1 | R2> {
    return this._thenIn(onFulfilled, onRejected, current.frame);
  }

  /** @internal then() called on behalf of code running in `frame` (see thenReadWithEmbedderData). */
  _thenIn<R1 = T, R2 = never>(
    onFulfilled: ((value: T) => R1 | PromiseLike<R1>) | null | undefined,
    onRejected: ((reason: any) => R2 | PromiseLike<R2>) | null | undefined,
    frame: Frame | null,
  ): Promise<R1 | R2> {
    if (frame !== null && frame.task === null) {
      if (this._state === PENDING && (this._flags & YIELD_RESUME) === 0) noteAwaitWithoutTask(frame, this, isPendingFuture);
    }
    const task = frame !== null && current.stepTask === null ? frame.task : null;
    if (task !== null && task._state === PENDING && this._state === PENDING) {
      if ((task as unknown) === this) {
        return Promise.reject(new EventLoopError(`Task cannot await on itself: ${this}`, 'ERR_TASK_AWAIT_SELF')).then(onFulfilled, onRejected);
      }
      task._awaiting(this);
    }
    const promise = new Promise<R1 | R2>(resolversExecutor());
    const held = holder;
    const resolve = held.resolve;
    const reject = held.reject;
    held.resolve = held.reject = noopResolver;
    const settle = (): void => {
      if (this._state === FINISHED && (this._flags & FAILED) === 0) {
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

  [Symbol.iterator](): Iterator<Future<T>, T, unknown> {
    return new FutureIter(this);
  }

  override toString(): string {
    const name = this._className;
    if (this._state === PENDING) return `<${name} pending>`;
    if (this._state === CANCELLED) return `<${name} cancelled>`;
    if ((this._flags & FAILED) !== 0) return `<${name} finished exception=${repr(this._result)}>`;
    return `<${name} finished result=${repr(this._result)}>`;
  }

  // ---- internals shared with Task, the loop and the combinators ----

  /** @internal Someone awaits the native promise (or called then()): settle it once done, through the loop. */
  _observe(): void {
    this._flags |= OBSERVED;
    if (this._state === PENDING) this._addCallbackInternal(settleNative);
    // Done, its callbacks queued and not run (a granted lock Waiter may still be revoked): the
    // await resumes with them, reading the state then.
    else if (this._callbacks !== null) this._callbacks = appendCallback(this._callbacks, settleNative);
    else settleNative(this);
  }

  /** @internal A done callback that is never exposed (cheaper than addDoneCallback's checks). */
  _addCallbackInternal(cb: DoneListener): void {
    const cbs = this._callbacks;
    if (cbs === null) this._callbacks = cb;
    else if (!Array.isArray(cbs)) this._callbacks = [cbs, cb];
    else cbs.push(cb);
  }

  /** @internal What awaiting a done, unsuccessful future raises (marks an exception retrieved). */
  _failure(): unknown {
    if (this._state === CANCELLED) return this._makeCancelledError();
    this._retrieved();
    return this._result;
  }

  /** @internal */
  _makeCancelledError(): CancelledError {
    const c = this._result as unknown;
    if (c instanceof CancelledError) return c;
    return new CancelledError(c as string | undefined);
  }

  /** @internal The cancel's message (cancelled, or a task asked to cancel: see _result). */
  _cancelMessage(): string | undefined {
    const c = this._result as unknown;
    if (c instanceof CancelledError) return c.message === '' ? undefined : c.message;
    return c as string | undefined;
  }

  /** @internal The loop runs the future itself as one ready-queue entry: all its done callbacks, in order. */
  _run(pass?: PassFrame): void {
    const cbs = this._callbacks;
    if (cbs === null) return;
    this._callbacks = null;
    if (cbs === settleNative) {
      // The await's, alone: resuming the code that awaits the future runs none here (V8 queues
      // it), and settling the native promise throws nothing for _runCallback to report.
      settleNative(this as Future<unknown>, true);
    } else if (typeof cbs === 'function') {
      if (pass !== undefined) pass._enterPassFrame();
      this._runCallback(cbs);
    } else {
      if (pass !== undefined) pass._enterPassFrame();
      if (!Array.isArray(cbs)) this._runCallback(cbs);
      else for (let i = 0; i < cbs.length; i++) this._runCallback(cbs[i]!);
    }
  }

  /** @internal Runs one done callback, its exception to the loop's handler (Task wakes its waiters with it too). */
  _runCallback(cb: DoneListener): void {
    try {
      if (typeof cb === 'function') cb(this);
      else cb._futureDone(this);
    } catch (exception) {
      this._loop.callExceptionHandler({ message: `Exception in callback of ${this}`, exception, future: this });
    }
  }

  /** @internal */
  _scheduleCallbacks(): void {
    if (this._callbacks === null) return;
    this._loop._pushReady(this);
  }

  /** @internal */
  _retrieved(): void {
    if ((this._flags & TRACKED) !== 0) {
      this._flags &= ~TRACKED;
      unretrieved.unregister(this);
    }
  }

  /** @internal */
  _track(kind: string): void {
    this._flags |= TRACKED;
    unretrieved.register(this, { loop: this._loop, exception: this._result, kind }, this);
  }

  /** @internal Settles as `src` did (result, exception or cancellation). */
  _copyStateFrom(src: Future<T>): void {
    if (this._state !== PENDING) return;
    if (src._state === CANCELLED) {
      this.cancel(src._cancelMessage());
    } else if ((src._flags & FAILED) !== 0) {
      src._retrieved();
      this._setException(src._result);
    } else {
      this.setResult(src._result as T);
    }
  }
}

export class Future<T = unknown> extends FutureMethods<T> {
  /**
   * @param _fieldsKind @internal what registerFutureClass() returned (no longer read: the class
   * keeps its field initializer, see CLASS_INIT)
   */
  constructor(loop?: AbstractEventLoop, _fieldsKind?: number) {
    super(resolversExecutor());
    const held = holder;
    // The initializer is the class's own only when it was made for the class being made: a
    // subclass of it (a user's `class MyTask extends Task`) needs its own prototype made
    // awaitable. That case is a call away, which keeps this constructor small enough for V8 to
    // inline it where a future is made (sleep(): 67 instructions of construct stub otherwise).
    // Named, not keyed by CLASS_INIT (see there).
    const own = (new.target as unknown as { _evloopClassInit?: ClassInit })._evloopClassInit;
    const init = own !== undefined && own.cls === new.target ? own.init : initFieldsOf(new.target);
    init.call(this, held.resolve, held.reject, loop === undefined ? getRunningLoop() : loop);
    // The resolving functions hold the promise: left there they would keep the last future alive.
    held.resolve = held.reject = noopResolver;
    if (PARSER_ESTIMATE_ONLY) {
      // Never runs. V8 sizes a class's objects by the `this.x =` it sees in the constructors:
      // without these, fields set by initFields would spill out of the object.
      this._state = PENDING;
      this._result = undefined;
      this._flags = 0;
      this._loop = loop!;
      this._callbacks = null;
      this._awaiter = null;
      this._resolveNative = this._rejectNative = noop;
    }
  }
}

// `await fut` runs PromiseResolve(%Promise%, fut): fut is a native promise, so V8 reads its
// `constructor` and, when that is %Promise%, awaits fut itself — one microtask hop, as for any
// promise — instead of wrapping a thenable (a PromiseResolveThenableJob calling then(): three
// hops). The read happens synchronously in the awaiting code, which is the moment an
// async-function task learns which future it awaits (bench/await-designs.js compares the
// designs). fut.then() reads it too (SpeciesConstructor), so then() returns a plain Promise and
// also counts as awaiting. Subclasses (Task, ...) define their own `constructor`; each gets the
// accessor the first time one of its instances is made.
const OWN = Symbol('evloop.awaitable');
const INIT_FIELDS = Symbol('evloop.initFields');
type InitFields = (this: Future<unknown>, resolve: (v: unknown) => void, reject: (e: unknown) => void, loop: AbstractEventLoop) => void;
interface AwaitableProto {
  [OWN]?: object;
  [INIT_FIELDS]: InitFields;
}
const PARSER_ESTIMATE_ONLY = false as boolean;

// Future's fields are set by a function compiled once per class (Future, Task, SleepFuture, the
// sync Waiter, ...), not by the constructor: a property store learns the object layouts it
// sees, and the constructor's stores, shared by every subclass, saw so many that each became a
// generic lookup — making a Future cost 200-370 ns instead of ~50 in a process that uses five
// kinds. A copy of its own per class keeps every store on one layout.
// Where the process forbids compiling code from strings, all classes share this one. It names
// nothing but its parameters and literals (PENDING is 0): its source is the body of every copy.
const sharedInitFields = function (this: Future<unknown>, resolve: (v: unknown) => void, reject: (e: unknown) => void, loop: AbstractEventLoop): void {
  this._state = 0;
  this._result = undefined;
  this._flags = 0;
  this._loop = loop;
  this._callbacks = null;
  this._awaiter = null;
  this._resolveNative = resolve;
  this._rejectNative = reject;
};
const sharedSource = sharedInitFields.toString();
const INIT_FIELDS_BODY = sharedSource.slice(sharedSource.indexOf('{') + 1, sharedSource.lastIndexOf('}'));
function compileInitFields(): InitFields {
  try {
    return new Function('resolve', 'reject', 'loop', INIT_FIELDS_BODY) as InitFields;
  } catch {
    return sharedInitFields;
  }
}
let internalThen = false;
const promiseThen = Promise.prototype.then;
const noop = (): void => {};

function awaitedConstructor(this: Future<unknown>): PromiseConstructor {
  if (internalThen) return Promise;
  const flags = this._flags;
  // A done future leaves nothing to register or cancel (and a task awaiting itself is pending):
  // the frame, a native call with embedder data, is not read.
  if (this._state !== PENDING) {
    if ((flags & OBSERVED) === 0) this._observe();
    return Promise;
  }
  if ((flags & OBSERVED) === 0) {
    // _observe() of a pending future, with what is known here.
    this._flags = flags | OBSERVED;
    this._addCallbackInternal(settleNative);
  }
  const frame = current.frame;
  if (frame === null) return Promise;
  const task = frame.task;
  if (task === null) {
    // No task yet (an async function started by a callback or a generator step): the task that
    // createTask(child()) makes takes these over with the frame.
    if ((flags & YIELD_RESUME) === 0) noteAwaitWithoutTask(frame, this, isPendingFuture);
    return Promise;
  }
  if (current.stepTask !== null || task._state !== PENDING) return Promise;
  // Thrown at the `await` (PromiseResolve's abrupt completion), as asyncio raises it there.
  if ((task as unknown) === this) throw new EventLoopError(`Task cannot await on itself: ${this}`, 'ERR_TASK_AWAIT_SELF');
  // sleep(0) is asyncio's bare yield: nothing to cancel, a cancel is thrown in at resumption.
  // Otherwise a cancel requested while nothing was awaited cancels this future here.
  if ((flags & YIELD_RESUME) !== 0) this._awaiter = task;
  else task._awaiting(this);
  return Promise;
}

// An async function that returns a future (`async () => loop.sockRecv(sock, n)`) settles its
// promise with it: V8 reads `then` in the returning code and calls it later from a
// PromiseResolveThenableJob. The hooks carrier restores the frame in that job; V8 does not carry
// its embedder data into it, so with that carrier a `then` read in a frame is bound to the frame.
const thenMethod = Future.prototype.then;
function thenReadWithEmbedderData(this: Future<unknown>): Future<unknown>['then'] {
  const frame = current.frame;
  if (frame === null) return thenMethod;
  const fut = this;
  return function then(onFulfilled, onRejected) {
    return fut._thenIn(onFulfilled, onRejected, frame);
  } as Future<unknown>['then'];
}
if (asyncContextCarrier === 'embedder-data') {
  Object.defineProperty(Future.prototype, 'then', { configurable: true, enumerable: false, get: thenReadWithEmbedderData });
}

function isPendingFuture(f: Future<unknown>): boolean {
  return f._state === PENDING;
}

function makeAwaitable(proto: AwaitableProto, cls: { name: string }): void {
  Object.defineProperty(proto, '_className', { configurable: true, enumerable: false, value: cls.name });
  Object.defineProperty(proto, INIT_FIELDS, { value: compileInitFields() });
  Object.defineProperty(proto, OWN, { value: proto });
  // Defined last, not where the class put it (first): V8's search of an object's properties at
  // every `await` starts from the last defined (callgrind: 18 instructions an `await` of a Future
  // fewer than with the four others searched first).
  delete (proto as { constructor?: unknown }).constructor;
  Object.defineProperty(proto, 'constructor', { configurable: true, enumerable: false, get: awaitedConstructor });
}
makeAwaitable(Future.prototype as unknown as AwaitableProto, Future);
// Future's `super()` constructs the Promise directly: FutureMethods' default constructor, left in
// the way, is a FindNonDefaultConstructorOrConstruct call per future (callgrind: 56
// instructions). Only the prototypes need FutureMethods, and FutureMethods has no statics.
Object.setPrototypeOf(Future, Promise);

// Finding a class's initializer on its prototype is a lookup that sees every future class's
// prototype, a megamorphic load (in an isolated experiment, a Promise subclass made that way took
// 81 ns against 50 with its stores inline). Each class keeps it on itself instead, with the class
// it was made for (a subclass inherits the property and must not take its parent's): where V8
// inlines the constructor with the class known (sleep(), createFuture()), both loads fold to
// constants and the initializer is inlined too (callgrind: switch 3,219 -> 3,118 instructions,
// future create/resolve/await 1,769 -> 1,689, Task creation and a generator switch ~100 fewer).
// A string, not a symbol: a symbol lives in a module variable, unknown to the compiler, so the
// load is keyed, and once a process makes more than four kinds of futures (a pooled client: Future,
// Task, the pool's use() task, Waiter, ...) a keyed load that saw them all is a megamorphic
// lookup everywhere, the class known or not (callgrind, a socket-less pool.use round trip: 82
// instructions per future, and the initializer no longer inlined: 10,902 -> 10,525).
const CLASS_INIT = '_evloopClassInit';
interface ClassInit {
  cls: unknown;
  init: InitFields;
}
let registered = 0;

/** A class's field initializer, its prototype made awaitable on first use (a user's subclass). */
function initFieldsOf(cls: { prototype: object; name: string }): InitFields {
  const proto = cls.prototype as unknown as AwaitableProto;
  if (proto[OWN] !== proto) makeAwaitable(proto, cls);
  const init = proto[INIT_FIELDS];
  if (!Object.prototype.hasOwnProperty.call(cls, CLASS_INIT) && Object.isExtensible(cls)) {
    Object.defineProperty(cls, CLASS_INIT, { value: { cls, init } satisfies ClassInit });
  }
  return init;
}

/**
 * @internal Prepares a Future subclass of evloop's own at load (what its first instance would
 * do). The number it returns is no longer needed by Future's constructor.
 */
export function registerFutureClass(cls: { prototype: object; name: string }): number {
  initFieldsOf(cls);
  return registered++;
}
registerFutureClass(Future);

/**
 * @internal `new Future(loop)` for code that makes a plain Future (loop.createFuture): the
 * Promise constructed for Future by Reflect.construct (see constructYield) and its fields set here,
 * in initFields' order (the same layout). Where createFuture is inlined into an async function,
 * `new Future()`'s `super()` stays a FindNonDefaultConstructorOrConstruct call and a generic
 * Construct, and its class lookup runs too.
 */
export function newFuture<T>(loop: AbstractEventLoop): Future<T> {
  const fut = constructFuture(resolversExecutor()) as Future<T>;
  const held = holder;
  const resolve = held.resolve;
  const reject = held.reject;
  held.resolve = held.reject = noopResolver;
  fut._state = PENDING;
  fut._result = undefined;
  fut._flags = 0;
  fut._loop = loop;
  fut._callbacks = null;
  fut._awaiter = null;
  fut._resolveNative = resolve;
  fut._rejectNative = reject;
  return fut;
}

function constructFuture(_executor: (resolve: (v: any) => void, reject: (e: unknown) => void) => void): object {
  // eslint-disable-next-line prefer-rest-params
  return Reflect.construct(Promise, arguments, Future) as object;
}

/**
 * sleep(0)'s future: asyncio's bare yield, queued once in the ready queue and never a timer, so
 * without SleepFuture's two timer fields (each one a store per yield and a longer search at the
 * `await`, see FutureMethods). Its `_run` and its `constructor` accessor are the yield's own.
 * Made by newYield (below), not by this constructor: the Promise is constructed for this class
 * and newYield sets the fields in their final values (no class lookup for the field initializer,
 * no second store of the value and the flag, no loop check). Nothing subclasses it, so its stores
 * see one layout. A Future all the same (its prototype is one: see below).
 */
class YieldFuture<T> extends FutureMethods<T> {
  // Never called (see newYield). V8 sizes a class's objects by the `this.x =` it sees in its
  // constructor: without these, the fields newYield sets would spill out of the object.
  private constructor() {
    super(noop);
    if (PARSER_ESTIMATE_ONLY) {
      this._state = PENDING;
      this._result = undefined;
      this._flags = YIELD_RESUME;
      this._loop = null!;
      this._callbacks = null;
      this._awaiter = null;
      this._resolveNative = this._rejectNative = noop;
    }
  }

  override cancel(msg?: string): boolean {
    // The value waiting in _result is no cancel's CancelledError (see Future._result).
    if (this._state === PENDING) this._result = undefined;
    return super.cancel(msg);
  }

  /** @internal Run by the ready queue: its pass has come (see runYield). */
  override _run(pass?: PassFrame): void {
    runYield(this as unknown as Future<unknown>, pass);
  }
}
// `super()` goes to Promise itself (FutureMethods' default constructor would be a call more), and
// instances are Futures (isFuture, `instanceof Future`).
Object.setPrototypeOf(YieldFuture, Promise);
Object.setPrototypeOf(YieldFuture.prototype, Future.prototype);
// A bare yield registers nothing with the task (asyncio's sleep(0) leaves nothing to cancel), it
// only learns whom to throw a pending cancel into when it resumes: its `constructor` accessor
// skips the general one's cases.
registerFutureClass(YieldFuture);
Object.defineProperty(YieldFuture.prototype, 'constructor', { configurable: true, enumerable: false, get: awaitedYield });

/**
 * @internal sleep(0)'s future, holding `value`, not queued yet. The holder is read before the
 * first store: TurboFan then writes the fields' map transitions in fewer map stores (each check
 * between two stores ends a run of them; callgrind: 18 instructions a yield).
 */
export function newYield<T>(loop: AbstractEventLoop, value: T): Future<T> {
  const fut = constructYield(resolversExecutor()) as YieldFuture<T>;
  const held = holder;
  const resolve = held.resolve;
  const reject = held.reject;
  held.resolve = held.reject = noopResolver;
  fut._state = PENDING;
  fut._result = value;
  fut._flags = YIELD_RESUME;
  fut._loop = loop;
  fut._callbacks = null;
  fut._awaiter = null;
  fut._resolveNative = resolve;
  fut._rejectNative = reject;
  return fut as unknown as Future<T>;
}

/**
 * The Promise constructed for YieldFuture (its map, its prototype) without a constructor of
 * YieldFuture's own. A `super()` inlined into the awaiting async function (where sleep() is
 * inlined) stays a FindNonDefaultConstructorOrConstruct call and a generic Construct, 43
 * instructions a yield (TurboFan reduces neither inside the async function's implicit try
 * block); `Reflect.construct` with the function's own `arguments` is reduced to a plain
 * construct of the Promise builtin, the arguments object never made (with an array literal it
 * stays a ConstructWithArrayLike call: +58, and 8 bytes). Callgrind, `await sleep(0)` in an
 * async-function task: 2,444 -> 2,376 instructions of JavaScript and builtins a yield.
 */
function constructYield(_executor: (resolve: (v: any) => void, reject: (e: unknown) => void) => void): object {
  // eslint-disable-next-line prefer-rest-params
  return Reflect.construct(Promise, arguments, YieldFuture) as object;
}

function awaitedYield(this: Future<unknown>): PromiseConstructor {
  // No internalThen check: rejectHandled's then() reads this only once the yield is done and
  // observed, and then nothing below applies.
  if ((this._flags & OBSERVED) === 0) this._observe();
  if (this._state !== PENDING) return Promise;
  const frame = current.frame;
  if (frame !== null && current.stepTask === null) {
    // A done task is no pending task's: _cancelAtYield finds nothing to throw in.
    const task = frame.task;
    if (task !== null) this._awaiter = task;
  }
  return Promise;
}

/**
 * @internal sleep(0)'s future run by the ready queue: pending, its pass has come and it is done;
 * its one done callback, the `await`'s, settles the native promise right here (no second entry
 * in the pass, no callback loop around it). Done already (cancelled), its callbacks as any future's.
 */
export function runYield(fut: Future<unknown>, pass: PassFrame | undefined): void {
  if (fut._state !== PENDING) {
    runFuture.call(fut, pass);
    return;
  }
  // _result holds the value from the start (nothing reads it while the future is pending).
  fut._state = FINISHED;
  if (fut._callbacks === settleNative) {
    fut._callbacks = null;
    settleNative(fut, true);
    return;
  }
  runFuture.call(fut, pass);
}
const runFuture = FutureMethods.prototype._run;

/**
 * The future's outcome, handed to its native promise (observed: something awaits it). `sole`:
 * this is the only callback its run has (see the sleep(0) case below).
 */
/** @internal Whether `cb` is the done callback an `await` of a future adds (see Task._scheduleCallbacks). */
export function isAwaitCallback(cb: unknown): boolean {
  return cb === settleNative;
}

function settleNative(fut: Future<unknown>, sole = false): void {
  const task = fut._awaiter;
  if (task !== null) {
    fut._awaiter = null;
    if ((fut._flags & YIELD_RESUME) === 0) {
      task._awaited(fut);
    } else {
      const cancelled = task._cancelAtYield();
      if (cancelled !== null) return rejectHandled(fut, cancelled);
    }
  }
  if (fut._state === FINISHED && (fut._flags & FAILED) === 0) {
    // sleep(0) is asyncio's bare yield: the tasks woken in the same pass run their whole step
    // first. An async-function task's step ends one hop after its continuation (when its
    // promise's reaction runs), so code resuming from sleep(0) waits for the hops that a
    // native promise in between costs — unless this resumption is all the pass does (its one
    // runnable, with no other callback): then no other task was woken to wait for.
    if ((fut._flags & YIELD_RESUME) !== 0 && !(sole && fut._loop._passSize === 1)) fut._resolveNative(Promise.resolve(fut._result));
    else fut._resolveNative(fut._result);
    return;
  }
  rejectHandled(fut, fut._failure());
}

/**
 * settleNative for a future just given its result (not failed, not sleep(0)'s): the whole of it
 * that applies, small enough for V8 to inline where a stream read is settled (a stream's
 * feedData, itself inlined into the protocol's dataReceived: settleNative's other cases made the
 * chain too big for one function's inlining budget, and the calls left cost ~50 instructions a
 * message in the async echo server, callgrind).
 */
function resolveAwaited(fut: Future<unknown>): void {
  const task = fut._awaiter;
  if (task !== null) {
    fut._awaiter = null;
    task._awaited(fut);
  }
  fut._resolveNative(fut._result);
}

function rejectHandled(fut: Future<unknown>, err: unknown): void {
  fut._rejectNative(err);
  // Handled: an observer that attached no reaction (Promise.resolve(fut) alone) must not make
  // the process report an unhandled rejection; the future's own reporting stays as it was.
  internalThen = true;
  try {
    promiseThen.call(fut, undefined, noop);
  } finally {
    internalThen = false;
  }
}

/**
 * @internal A Future done with `undefined` that is cheap to await again and again (a stream's
 * settled drain(), one per connection, awaited after every write). V8 looks `constructor` up at
 * every `await` of it, through the object's own properties and then each prototype until found.
 * So it has no own properties: a native promise, settled, whose prototype (one per loop and
 * `extra`: every such future of a loop has one map) holds a done Future's fields, then `extra`,
 * then `constructor` as a plain value, last, so that the search finds it at once (it searches
 * each object's properties from the last defined). Callgrind, an `await` of a settled promise
 * object: 794 instructions with a Future's ten own fields and `constructor` one prototype up, 745
 * this way (in the async echo server, one a message). The accessor is not needed: a done future
 * has nothing to register or cancel.
 *
 * `constructor` sits on a prototype, not on the object: V8 takes `constructor` defined on any
 * promise object as a sign that promises may no longer construct their own kind, and from then
 * on, in the whole process, every `await` of a native promise looks `constructor` up and every
 * `then()` looks up the species (callgrind: ~580 instructions more for an `await p; p.then()`
 * pair, once any stream had drained).
 */
export function settledFuture(loop: AbstractEventLoop, extra: PropertyDescriptorMap & ThisType<unknown>): Future<void> {
  let protos = settledProtos.get(loop);
  if (protos === undefined) settledProtos.set(loop, (protos = new Map()));
  let proto = protos.get(extra);
  if (proto === undefined) {
    proto = Object.create(Future.prototype, {
      _state: { configurable: true, enumerable: false, writable: true, value: FINISHED },
      _result: { configurable: true, enumerable: false, writable: true, value: undefined },
      _flags: { configurable: true, enumerable: false, writable: true, value: OBSERVED },
      _loop: { configurable: true, enumerable: false, writable: true, value: loop },
      _callbacks: { configurable: true, enumerable: false, writable: true, value: null },
      _awaiter: { configurable: true, enumerable: false, writable: true, value: null },
      _resolveNative: { configurable: true, enumerable: false, writable: true, value: noopResolver },
      _rejectNative: { configurable: true, enumerable: false, writable: true, value: noopResolver },
    }) as object;
    Object.defineProperties(proto, extra);
    Object.defineProperty(proto, 'constructor', { configurable: true, enumerable: false, writable: false, value: Promise });
    protos.set(extra, proto);
  }
  const fut = new Promise<void>(resolversExecutor());
  const held = holder;
  held.resolve(undefined);
  held.resolve = held.reject = noopResolver;
  Object.setPrototypeOf(fut, proto);
  return fut as Future<void>;
}
/** A loop -> the prototypes settledFuture made for it, by their `extra`. */
const settledProtos = new WeakMap<AbstractEventLoop, Map<PropertyDescriptorMap, object>>();

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


// asyncio.Task: drives a coroutine — a generator (step by step, the faithful model) or an async
// function's promise — and is itself a Future of the coroutine's result.
//
// Cancellation, generator tasks: exactly asyncio's. cancel() cancels the future the task is
// suspended on (or, when there is none, throws CancelledError in at the next step); the coroutine
// sees CancelledError at its `yield*` and may catch it.
//
// Cancellation, async-function tasks: V8 runs their continuations, so the task cannot throw into
// them. Instead every task that calls a function (createTask(fn), run(fn)) runs it inside a Frame
// (context.ts: carried by V8 promise hooks) that follows all its continuations; `await fut` on an evloop Future (a native
// promise) reads fut.constructor inside that frame, which registers `fut` as awaited by the task. cancel() cancels
// every evloop future the frame awaits at that moment; when there is none (the coroutine is
// running, or awaits a plain Promise), the next evloop future it awaits is cancelled at once, and
// if it finishes without awaiting one, the task ends cancelled (asyncio's _must_cancel).
// createTask(promise) — the coroutine already started — hands the frame that was current when it
// was called over to the new task and gives the caller a fresh one: exact for
// `createTask(child())`; see docs/tasks.md for the cases it cannot separate.
import {
  FAILED as FAILED_FLAG,
  Future,
  HOLDS_FRAMES as HOLDS_FRAMES_FLAG,
  MUST_CANCEL as MUST_CANCEL_FLAG,
  OBSERVED as OBSERVED_FLAG,
  WAKE_WAITING_TASKS as WAKE_WAITING_TASKS_FLAG,
  WOKEN_STEP as WOKEN_STEP_FLAG,
  UNCLAIMED as UNCLAIMED_FLAG,
  isAwaitCallback,
  oneOrManyHolds,
  registerFutureClass,
  type DoneListener,
} from './future';
import { PENDING as PENDING_STATE, CANCELLED as CANCELLED_STATE, FINISHED as FINISHED_STATE } from './events';
import { codedError, describe, invalidArgType, validateObject } from '../util/validate';
import { getRunningLoop } from './running';
import { CancelledError, EventLoopError, InvalidStateError } from '../util/errors';
import { current, Frame, releaseFrames, retainFrames } from './context';
import type { PassFrame } from './handles';
import { Status, statusOfError, statusMessage } from '../util/status';
import type { AbstractEventLoop as EventLoop } from './events';
import { isGeneratorObject } from 'util/types';

// Module constants, folded by optimized code; an imported name is a field load at every use (see
// future.ts).
const PENDING = PENDING_STATE;
const CANCELLED = CANCELLED_STATE;
const FINISHED = FINISHED_STATE;
const FAILED = FAILED_FLAG;
const HOLDS_FRAMES = HOLDS_FRAMES_FLAG;
const MUST_CANCEL = MUST_CANCEL_FLAG;
const OBSERVED = OBSERVED_FLAG;
const WAKE_WAITING_TASKS = WAKE_WAITING_TASKS_FLAG;
const WOKEN_STEP = WOKEN_STEP_FLAG;
const UNCLAIMED = UNCLAIMED_FLAG;

export type GeneratorCoroutine<T> = Generator<unknown, T, any>;
/** What a Task can drive: a generator, an async function's promise, or a function returning either. */
export type Coroutine<T> =
  | GeneratorCoroutine<T>
  | PromiseLike<T>
  | ((...args: any[]) => GeneratorCoroutine<T> | PromiseLike<T> | T);

export interface TaskOptions {
  name?: string;
  signal?: AbortSignal;
  /**
   * Run the first step now, inside createTask, instead of on the next pass (asyncio 3.14's
   * `eager_start`): a coroutine that finishes without waiting never touches the loop. Applies
   * to generator coroutines on a running loop; otherwise the task starts as usual.
   */
  eagerStart?: boolean;
  /** @internal createTask passes its loop */
  loop?: EventLoop;
}

let taskCounter = 0;

// A generator object made by a function* expression has a map of its own (its prototype is the
// function's own `prototype`): `gen.next` read on it is an inline-cache miss in V8's runtime,
// which builds a handler and makes that prototype a fast prototype first (callgrind: ~4,000
// instructions a task for a task whose generator function is made per task, as
// `createTask(function* () { ... })` in a loop does). So nothing reads a property of a native
// generator: it is recognized by its prototype chain, and a task resumes it with
// %GeneratorPrototype%'s own next/throw (as asyncio's Task calls coro.send, which a coroutine
// cannot override).
const GENERATOR_FUNCTION_PROTOTYPE = Object.getPrototypeOf(function* () {}) as object;
const GENERATOR_PROTOTYPE = (GENERATOR_FUNCTION_PROTOTYPE as { prototype: Generator }).prototype;
const generatorNext = GENERATOR_PROTOTYPE.next;
const generatorThrow = GENERATOR_PROTOTYPE.throw;
const isPrototypeOf = Object.prototype.isPrototypeOf;

// The class of the iterator `yield* fut` drives (future.ts's FutureIter, which it keeps to
// itself): its next() reads fut's outcome, and its first next() returns the iterator itself,
// which the generator's `yield*` hands to the task as it is.
const FutureIter = (Future.prototype[Symbol.iterator] as (this: unknown) => object).call(undefined).constructor;
/**
 * A Task's bit in Future._flags (future.ts's own end at WOKEN_STEP, 128): the generator is
 * suspended in `yield* fut` (see _step), so it is resumed with undefined, not fut's result.
 */
const IN_YIELD_STAR = 1 << 14;

/** Drives a coroutine that is an iterator but no native generator, so that a Task's `_coro` always is one. */
function* delegateTo<T>(it: Generator<unknown, T, unknown>): Generator<unknown, T, unknown> {
  // yield* passes next and throw through as they come (it need not be iterable itself).
  return yield* { [Symbol.iterator]: () => it };
}
/** The iterator a task was given, where its `_coro` is delegateTo's generator over it (getCoro). */
const delegatedFrom = new WeakMap<object, unknown>();

/** `coro` as a native generator (itself when it is one: the usual case, one native call). */
function nativeGenerator<T>(coro: Generator<unknown, T, unknown>): Generator<unknown, T, unknown> {
  if (isGeneratorObject(coro as object)) return coro;
  const gen = delegateTo(coro);
  delegatedFrom.set(gen, coro);
  return gen;
}

export function isGenerator<V = unknown>(x: unknown): x is Generator<unknown, V, unknown> {
  if (x === null || typeof x !== 'object') return false;
  if (isPrototypeOf.call(GENERATOR_PROTOTYPE, x)) return true;
  return typeof (x as Generator).next === 'function' && typeof (x as Generator).throw === 'function' && !(x instanceof Future);
}

export function isThenable<V = unknown>(x: unknown): x is PromiseLike<V> {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof (x as PromiseLike<unknown>).then === 'function';
}

function abortMessage(reason: unknown): string | undefined {
  if (reason === undefined) return undefined;
  if (reason instanceof Error) return reason.message;
  return String(reason);
}

// A task whose frame awaits many futures at once (workers started with Promise.all inside it)
// keeps them in an array that outlives young-generation GCs, while the futures are young: each
// push and each swap-remove (see _awaited) storing one into the old array takes a write barrier
// (~50 instructions; 16 workers awaiting a pool's acquire: 2 of 5 barriers an acquire + release
// took). The array is copied every WAITER_ARRAY_USES pushes instead, so it is almost always
// young itself (as future.ts's resolvers holder).
const WAITER_ARRAY_USES = 32;
let waiterArrayPushes = 0;

/**
 * @internal A Task's state and methods. Task itself (below) adds only its constructor: V8 looks
 * `constructor` up on a task at every `await task`, through its fields and then the prototype
 * holding the accessor, whose size that search pays for (see Future).
 */
export class TaskMethods<T = unknown> extends Future<T> {
  // Seven fields of its own (a cancel pending and the promise hooks held are bits of _flags):
  // each costs every task its store and 8 bytes, which a sleeping task's young-generation GCs
  // copy, and every `await task` a longer search of its fields (see FutureMethods).
  /** Task status code (status.ts): 1 before the first step, 100 running, 800 while done callbacks run, then final. */
  status: number = Status.INIT;
  /**
   * @internal The coroutine: the function until its first step calls it, then the generator it
   * drives (generator mode), or null (an async function's or a given promise: async mode).
   */
  _coro: Generator<unknown, T, unknown> | ((...args: any[]) => unknown) | null = null;
  /**
   * @internal What the task waits on. Generator mode: the future its step is suspended on.
   * Async mode: the evloop futures awaited inside its frame (one kept as is, as callbacks are).
   */
  _waiters: Future<unknown> | Future<unknown>[] | null = null;
  private _numCancelsRequested = 0;
  // Only a task given a signal has one.
  protected _abort: AbortListener | null = null;
  /** @internal the name given, else its number: `Task-<n>` is made when asked for */ _name: string | number = 0;
  /** @internal its slot in the loop's pending tasks, -1 once done */ _taskIndex = -1;

  /**
   * @internal The task is a done callback of the futures it waits on (an object, not a closure
   * per task: see DoneListener). In generator mode the future its step is suspended on wakes
   * the step; any other is one its frame awaited (async mode), which it stops waiting for.
   */
  _futureDone(fut: Future<unknown>): void {
    if (this._waiters === fut && this._isGenerator()) {
      if ((this._flags & WAKE_WAITING_TASKS) === 0) {
        wakeStep(this as Task<unknown>, fut);
        return;
      }
      this._flags |= WOKEN_STEP;
      try {
        wakeStep(this as Task<unknown>, fut);
      } finally {
        this._flags &= ~WOKEN_STEP;
        // Also if the step threw: a waiting task held back from the loop must still be woken
        // (the task ended: pending, its callbacks are those still to come).
        if (this._state !== PENDING && this._callbacks !== null) this._wakeWaitingTasks();
      }
    } else {
      this._awaited(fut);
    }
  }

  /** Ended (WAKE_WAITING_TASKS): the done callbacks that are tasks run now, the others stay queued. */
  private _wakeWaitingTasks(): void {
    const cbs = this._callbacks;
    if (cbs === null || (typeof cbs === 'function' && !isAwaitCallback(cbs))) return;
    if (!Array.isArray(cbs)) {
      // A lone task or `await`: held back from the loop by _scheduleCallbacks, so no queued
      // entry will set the final status.
      this._callbacks = null;
      this._runCallback(cbs);
      this.status = this._finalStatus();
      return;
    }
    let rest: DoneListener[] | null = null;
    let tasks: DoneListener[] | null = null;
    for (const cb of cbs) {
      if (typeof cb === 'function') (rest ??= []).push(cb);
      else (tasks ??= []).push(cb);
    }
    if (tasks === null) return;
    this._callbacks = rest === null ? null : rest.length === 1 ? rest[0]! : rest;
    for (const cb of tasks) this._runCallback(cb);
  }

  /** @internal Generator mode (after the first step, for a task made with a function). */
  _isGenerator(): boolean {
    const c = this._coro;
    return c !== null && typeof c !== 'function';
  }

  /** @internal */
  get _mustCancel(): boolean {
    return (this._flags & MUST_CANCEL) !== 0;
  }
  set _mustCancel(on: boolean) {
    if (on) this._flags |= MUST_CANCEL;
    else this._flags &= ~MUST_CANCEL;
  }

  private _stepWithErrorSoon(err: unknown): void {
    this._loop.callSoon((e: unknown) => this._step(e, true), err);
  }

  /** The step the loop runs for this task while it is pending (the task is its own ready-queue entry). */
  private _stepFromLoop(pass: PassFrame | undefined): void {
    const c = this._coro;
    if (typeof c === 'function') {
      this._firstCall(c, pass);
      return;
    }
    if (pass !== undefined) pass._enterPassFrame();
    if (c !== null) this._step(undefined, false);
    else if (this.status < Status.IN_PROCESS && this._state === PENDING) this.status = Status.IN_PROCESS;
  }

  /** @internal Task's constructor is below (see Task). */
  constructor(loop: EventLoop, fieldsKind?: number) {
    super(loop, fieldsKind);
  }

  getName(): string {
    const name = this._name;
    return typeof name === 'string' ? name : `Task-${name}`;
  }

  setName(name: unknown): void {
    this._name = String(name);
  }

  getCoro(): unknown {
    const c = this._coro;
    return c === null ? null : (delegatedFrom.get(c) ?? c);
  }

  get statusMessage(): string {
    return statusMessage(this.status);
  }

  override setResult(_value: T): void {
    throw new EventLoopError('Task does not support setResult', 'ERR_TASK_SET_RESULT');
  }

  override setException(_exception: unknown): void {
    throw new EventLoopError('Task does not support setException', 'ERR_TASK_SET_EXCEPTION');
  }

  /** Requests cancellation (see the header comment for what each coroutine style guarantees). */
  override cancel(msg?: string): boolean {
    if (this._state !== PENDING) return false;
    this._numCancelsRequested++;
    const ws = this._waiters;
    if (ws !== null) {
      if (ws instanceof Future) {
        if (ws.cancel(msg)) return true;
      } else if (ws.length !== 0) {
        let any = false;
        for (const w of ws.slice()) if (w.cancel(msg)) any = true;
        if (any) return true;
      }
    }
    this._mustCancel = true;
    // Kept where a cancelled future keeps it (see Future._result): a pending task has no result.
    (this as Task<unknown>)._result = msg;
    return true;
  }

  /** How many cancellation requests are pending (asyncio 3.11). */
  cancelling(): number {
    return this._numCancelsRequested;
  }

  /** Withdraws one cancellation request; returns the remaining count. */
  uncancel(): number {
    if (this._numCancelsRequested > 0) {
      this._numCancelsRequested--;
      if (this._numCancelsRequested === 0) this._mustCancel = false;
    }
    return this._numCancelsRequested;
  }

  override toString(): string {
    const base = super.toString();
    return base.replace(/^<Task /, `<Task ${this.getName()} `);
  }

  // ---- driving ----

  /**
   * `pass`: the loop pass running it. Then the task's frame is made current through the pass
   * and left current when fn is an async function (EventLoop._switchFrame); outside a pass, the
   * frame that was current is put back.
   */
  private _firstCall(fn: (...args: any[]) => unknown, pass?: PassFrame): void {
    this._coro = null;
    if (this._mustCancel) {
      // Cancelled before its first step: the coroutine never starts (as asyncio's would not).
      this._mustCancel = false;
      this._finishCancelled(this._makeCancelledError());
      return;
    }
    this.status = Status.IN_PROCESS;
    if (Object.getPrototypeOf(fn) === GENERATOR_FUNCTION_PROTOTYPE) {
      // A generator function: calling it runs none of its body, only its parameters' defaults
      // (outside the task, as asyncio evaluates a coroutine's arguments before create_task), and
      // returns a native generator. No frame to make and enter (two native calls), none to check;
      // in a pass, its own frame (an async task's first step may have left its frame current).
      if (pass !== undefined) pass._enterPassFrame();
      let gen: Generator<unknown, T, unknown>;
      try {
        gen = fn() as Generator<unknown, T, unknown>;
      } catch (e) {
        this._finishError(e);
        return;
      }
      this._coro = gen;
      this._step(undefined, false);
      return;
    }
    // The hooks must be on before fn runs, so that the promises it creates carry its frame.
    this._retainFrames();
    const frame = new Frame(this as Task<unknown>);
    frame.completes = this as Task<unknown>;
    if (pass !== undefined) {
      pass._switchFrame(frame);
      let r: unknown;
      try {
        r = fn();
      } catch (e) {
        this._finishError(e);
        return;
      }
      if (isNativePromise(r)) {
        promiseThen.call(r, onCoroutineReturned, onCoroutineFailed);
        return;
      }
      // What follows may run user code (a generator's step, a thenable's then), in the pass's frame.
      pass._enterPassFrame();
      this._afterFirstCall(r);
      return;
    }
    const prev = current.frame;
    current.frame = frame;
    let r: unknown;
    try {
      r = fn();
      if (isNativePromise(r)) {
        promiseThen.call(r, onCoroutineReturned, onCoroutineFailed);
        return;
      }
    } catch (e) {
      this._finishError(e);
      return;
    } finally {
      current.frame = prev;
    }
    this._afterFirstCall(r);
  }

  /** The first call returned something other than an async function's promise. */
  private _afterFirstCall(r: unknown): void {
    if (isGenerator(r)) {
      this._releaseFrames();
      this._coro = nativeGenerator(r as Generator<unknown, T, unknown>);
      this._step(undefined, false);
    } else if (isThenable(r)) {
      if (r instanceof Future) this._awaiting(r);
      this._attachPromise(r as PromiseLike<T>);
    } else {
      this._finishResult(r as T);
    }
  }

  protected _retainFrames(): void {
    if ((this._flags & HOLDS_FRAMES) !== 0) return;
    this._flags |= HOLDS_FRAMES;
    retainFrames();
  }

  /** @internal the task finished, or its loop closed */
  _releaseFrames(): void {
    if ((this._flags & HOLDS_FRAMES) === 0) return;
    this._flags &= ~HOLDS_FRAMES;
    releaseFrames();
  }

  protected _attachPromise(p: PromiseLike<T>): void {
    p.then(
      (v) => this._coroutineReturned(v),
      (e) => this._coroutineFailed(e),
    );
  }

  /**
   * @internal the async-function coroutine's promise fulfilled. After its loop closed (a coroutine
   * may still resume through a plain promise) the task stays pending, as asyncio leaves a closed
   * loop's tasks: it could run no done callback.
   */
  _coroutineReturned(v: T): void {
    if (this._state !== PENDING || this._loop.isClosed()) return;
    this._waiters = null;
    if (this._mustCancel) {
      this._mustCancel = false;
      this._finishCancelled(this._makeCancelledError());
    } else {
      this._finishResult(v);
    }
  }

  /** @internal the async-function coroutine's promise rejected */
  _coroutineFailed(e: unknown): void {
    if (this._state !== PENDING || this._loop.isClosed()) return;
    this._waiters = null;
    this._finishError(e);
  }

  /** @internal `await fut` inside this task's frame (Future's `constructor` accessor, or then()). */
  _awaiting(fut: Future<unknown>): void {
    if (this._isGenerator()) return;
    const other = fut._awaiter;
    // fut._awaiter is this task exactly while fut is in its _waiters (see _awaited and
    // _handOverWaiters): the common cases need no search of the list, which a task awaiting
    // many futures at once (Promise.all over helpers) would make quadratic.
    if (other !== (this as unknown)) {
      const ws = this._waiters;
      if (other === null) {
        fut._awaiter = this as Task<unknown>;
        this._addWaiter(fut);
        // then() settles through a closure of its own: the task is told here.
        if ((fut._flags & OBSERVED) === 0) fut._addCallbackInternal(this);
      } else {
        // A second task awaits the same future.
        if (!oneOrManyHolds(ws, fut)) this._addWaiter(fut);
        fut._addCallbackInternal(this);
      }
    }
    if (this._mustCancel && fut.cancel(this._cancelMessage())) this._mustCancel = false;
  }

  private _addWaiter(fut: Future<unknown>): void {
    const ws = this._waiters;
    if (ws === null) this._waiters = fut;
    else if (ws instanceof Future) this._waiters = [ws, fut];
    else if (++waiterArrayPushes !== WAITER_ARRAY_USES) ws.push(fut);
    else {
      waiterArrayPushes = 0;
      const young = ws.slice();
      young.push(fut);
      this._waiters = young;
    }
  }

  /** @internal (AwaitingTask) */
  _cancelAtYield(): unknown {
    if (!this._mustCancel || this._state !== PENDING) return null;
    this._mustCancel = false;
    return this._makeCancelledError();
  }

  /** @internal see the constructor: `to` takes over this task's pending awaits */
  _handOverWaiters(to: Task<unknown>): void {
    const ws = this._waiters;
    if (ws === null || this._isGenerator()) return;
    this._waiters = null;
    if (ws instanceof Future) {
      if (ws._awaiter === (this as unknown)) ws._awaiter = null;
      to._awaiting(ws);
      return;
    }
    for (const w of ws) {
      if (w._awaiter === (this as unknown)) w._awaiter = null;
      to._awaiting(w);
    }
  }

  /** @internal the awaited future settled: the task resumes */
  _awaited(fut: Future<unknown>): void {
    if (fut._awaiter === (this as unknown)) fut._awaiter = null;
    const ws = this._waiters;
    // The usual case first: the one future awaited (no prototype walk for instanceof).
    if (ws === fut) {
      this._waiters = null;
      return;
    }
    if (ws === null || ws instanceof Future) return;
    // Searched from the end and swap-removed: the latest await settles first, and the order of
    // the others does not matter (cancel() cancels them all).
    let i = ws.length - 1;
    while (i >= 0 && ws[i] !== fut) i--;
    if (i < 0) return;
    const last = ws.pop()!;
    if (i < ws.length) ws[i] = last;
  }

  /** @internal One step of a generator coroutine: resume it with a value or throw into it. */
  _step(value: unknown, isError: boolean): void {
    if (this._state !== PENDING) throw new InvalidStateError(`_step(): already done: ${this}`);
    if (this._mustCancel) {
      if (!(isError && value instanceof CancelledError)) {
        // The step would have delivered the future's result: asyncio's streams never put data in
        // a waiter's result, evloop's reads do (the bytes themselves), so the result is marked
        // for its maker to take back rather than dropped with the step.
        if (!isError) markUnclaimed(this._waiters);
        value = this._makeCancelledError();
        isError = true;
      }
      this._mustCancel = false;
    }
    this._waiters = null;
    if (this.status < Status.IN_PROCESS) this.status = Status.IN_PROCESS;
    const gen = this._coro as Generator<unknown, T, unknown>;
    const prev = current.stepTask;
    current.stepTask = this as Task<unknown>;
    let r: IteratorResult<unknown, T>;
    try {
      r = (isError ? generatorThrow.call(gen, value) : generatorNext.call(gen, value)) as IteratorResult<unknown, T>;
    } catch (e) {
      current.stepTask = prev;
      this._finishError(e);
      return;
    }
    current.stepTask = prev;
    // `yield* fut` hands the task fut's FutureIter itself, which reads fut's outcome when
    // resumed: resumed with undefined, the generator is spared storing a young value (the read's
    // data) into itself, a write barrier per step (callgrind: ~50 instructions a message in the
    // streams echo). A bare `yield fut` (a plain iterator result) is resumed with the result.
    // Told by `constructor`, a load the compiler folds to a constant for the maps it has seen
    // (`instanceof` walked the prototype chain: ~25 instructions).
    if (r.constructor === FutureIter) this._flags |= IN_YIELD_STAR;
    else this._flags &= ~IN_YIELD_STAR;
    if (r.done) {
      if (this._mustCancel) {
        this._mustCancel = false;
        this._finishCancelled(this._makeCancelledError());
      } else {
        this._finishResult(r.value);
      }
      return;
    }
    this._suspendOn(r.value);
  }

  private _suspendOn(y: unknown): void {
    const loop = this._loop;
    if (y instanceof Future) {
      if (y._loop !== loop) {
        this._stepWithErrorSoon(new EventLoopError(`Task ${this} got Future ${y} attached to a different loop`, 'ERR_DIFFERENT_LOOP'));
      } else if (y === (this as unknown)) {
        this._stepWithErrorSoon(new EventLoopError(`Task cannot await on itself: ${this}`, 'ERR_TASK_AWAIT_SELF'));
      } else if (y._state !== PENDING) {
        loop.callSoon(wakeStep, this, y);
      } else {
        y._addCallbackInternal(this);
        this._waiters = y;
        if (this._mustCancel && y.cancel(this._cancelMessage())) this._mustCancel = false;
      }
    } else if (y === undefined || y === null) {
      // A bare `yield` gives the other callbacks one pass (asyncio's bare yield / sleep(0)).
      loop._pushReady(this);
    } else if (isThenable(y) || isGenerator(y)) {
      this._suspendOn(ensureFuture(y, loop));
    } else {
      this._stepWithErrorSoon(codedError(TypeError, 'ERR_INVALID_YIELD', `Task got bad yield: ${describe(y)} (yield* an evloop Future or Task)`));
    }
  }

  // ---- completion ----

  private _finishResult(v: T): void {
    futureSetResult.call(this, v);
  }

  private _finishError(e: unknown): void {
    if (e instanceof CancelledError) {
      this._finishCancelled(e);
    } else {
      futureSetException.call(this, e);
    }
  }

  private _finishCancelled(e: CancelledError): void {
    this._cancelledExc = e;
    futureCancel.call(this, e.message === '' ? undefined : e.message);
  }

  /** @internal every completion path ends here */
  override _scheduleCallbacks(): void {
    this._loop._removeTask(this as Task<unknown>);
    this._releaseFrames();
    this._waiters = null;
    if (this._abort !== null) {
      this._abort.signal.removeEventListener('abort', this._abort);
      this._abort = null;
    }
    if (this._failed && this._loop._debug) this._track('Task');
    const cbs = this._callbacks;
    if (cbs !== null) {
      this.status = Status.CALLBACK;
      if ((this._flags & WOKEN_STEP) !== 0 && (typeof cbs === 'function' ? isAwaitCallback(cbs) : !Array.isArray(cbs))) {
        // A lone waiting task, or a lone `await` of this task, which _futureDone wakes once this
        // step has unwound: the loop is not given an entry that would find nothing to run (and
        // keep the task until it does).
        return;
      }
      super._scheduleCallbacks();
    } else {
      this.status = this._finalStatus();
    }
  }

  /** The status a done task ends with (computed again after its done callbacks: one field less). */
  private _finalStatus(): number {
    return this._state === CANCELLED ? Status.CANCELLED : (this._flags & FAILED) !== 0 ? statusOfError(this._result) : Status.SUCCESS;
  }

  /** @internal Run by the loop: a step while pending, else the done callbacks. */
  override _run(pass?: PassFrame): void {
    if (this._state === PENDING) {
      this._stepFromLoop(pass);
      return;
    }
    super._run(pass);
    this.status = this._finalStatus();
  }
}

export class Task<T = unknown> extends TaskMethods<T> {
  /** @param fieldsKind @internal a registered subclass's number (see registerFutureClass) */
  constructor(coro: Coroutine<T>, options?: TaskOptions, loop?: EventLoop, fieldsKind?: number) {
    super(loop ?? options?.loop ?? getRunningLoop(), fieldsKind);
    if (options !== undefined) validateObject(options as unknown, 'options');
    const name = options?.name;
    if (name !== undefined && typeof name !== 'string') throw invalidArgType('options.name', 'of type string', name);
    const signal = options?.signal;
    if (signal !== undefined && (signal === null || typeof signal !== 'object' || typeof signal.addEventListener !== 'function' || typeof signal.aborted !== 'boolean')) {
      throw invalidArgType('options.signal', 'an AbortSignal', signal);
    }
    let started = false;
    if (isGenerator(coro)) {
      this._coro = nativeGenerator(coro as Generator<unknown, T, unknown>);
    } else if (typeof coro === 'function') {
      this._coro = coro;
    } else if (coro instanceof Future) {
      throw invalidArgType('coro', 'a coroutine, not a Future (use ensureFuture() for futures)', coro);
    } else if (isThenable(coro)) {
      // Already started: no first step to queue (it would only set the status, in a loop pass).
      started = true;
      this.status = Status.IN_PROCESS;
      this._retainFrames();
      this._attachPromise(coro);
      // The promise captured the caller's frame when it started: that frame now belongs to this
      // task, and the caller continues in a fresh one.
      const frame = current.frame;
      if (frame !== null) {
        const previous = frame.task;
        frame.task = this as Task<unknown>;
        const fresh = new Frame(previous);
        // A task starting its coroutine registers the completion reaction in the frame current
        // when the coroutine returns, which this very handover may have replaced (_firstCall).
        fresh.completes = frame.completes;
        current.frame = fresh;
        // What the started coroutine awaited so far was registered on the caller's task (an
        // `await` registers synchronously, in the caller's frame): it moves with the frame. The
        // caller is running, so nothing pending there is its own await.
        if (previous !== null) (previous as Task<unknown>)._handOverWaiters(this as Task<unknown>);
        // Or, in a frame without a task (a callback's, a generator step's), noted on the frame.
        const ws = frame.waiters as Future<unknown>[] | null;
        if (ws !== null) {
          frame.waiters = null;
          for (const w of ws) if (w._state === PENDING) this._awaiting(w);
        }
      }
    } else {
      throw invalidArgType('coro', 'a coroutine (a generator, a promise, or a function returning one)', coro);
    }
    this._name = name !== undefined ? name : ++taskCounter;
    this._loop._addTask(this as Task<unknown>);
    const eager = options?.eagerStart === true && this._isGenerator() && this._loop.isRunning() && !(signal?.aborted ?? false);
    if (!eager && !started) this._loop._pushReady(this);
    if (signal !== undefined) {
      if (signal.aborted) {
        this.cancel(abortMessage(signal.reason));
      } else {
        this._abort = new AbortListener(this as Task<unknown>, signal);
        signal.addEventListener('abort', this._abort, { once: true });
      }
    }
    if (eager) this._step(undefined, false);
  }
}

/** Cancels its task when the signal aborts (an EventListener object: no closure per task). */
class AbortListener {
  constructor(
    private readonly task: Task<unknown>,
    readonly signal: AbortSignal,
  ) {}
  handleEvent(): void {
    this.task.cancel(abortMessage(this.signal.reason));
  }
}

const promiseThen = Promise.prototype.then;
// Read once: `Future.prototype` read where a task ends is a generic load in optimized code (the
// receiver, an import, is not known; callgrind: 44 instructions per task).
const futureSetResult = Future.prototype.setResult;
const futureSetException = Future.prototype._setException;
const futureCancel = Future.prototype.cancel;
registerFutureClass(Task);

/**
 * The future a cancelled step did not take its result from (see UNCLAIMED). A future that was
 * already done when yielded is woken by callSoon without becoming `_waiters`: not marked (a read
 * done at once took bytes that were buffered before the task yielded it).
 */
function markUnclaimed(waiters: unknown): void {
  if (waiters instanceof Future && waiters._state === FINISHED && (waiters._flags & FAILED) === 0) waiters._flags |= UNCLAIMED;
}

/** A generator task's step, resumed with `fut`'s outcome. */
function wakeStep(task: Task<unknown>, fut: Future<unknown>): void {
  if (fut._state === FINISHED && (fut._flags & FAILED) === 0) {
    task._step((task._flags & IN_YIELD_STAR) === 0 ? fut._result : undefined, false);
  } else {
    let exc: unknown;
    try {
      fut.result();
    } catch (e) {
      exc = e;
    }
    task._step(exc, true);
  }
}

/**
 * @internal fut.setResult(value), for a future a generator task may wait on in `yield*` (a
 * stream's read). When that task is fut's one done callback, the task itself is queued instead of
 * fut: its step resumes the generator with undefined, which the FutureIter answers with fut's
 * result, as wakeStep would have. The loop runs the same step at the same place in its queue,
 * minus fut's run of its callback (Future._run, _futureDone, wakeStep); and a task, long-lived,
 * goes into the (old) ready queue without the write barrier a young future takes there. With
 * the resumption by undefined (see _step), callgrind's streams echo: ~150 instructions a message
 * less. A cancel in between finds fut done and is thrown in at that step, as before.
 */
export function setResultStepping<T>(fut: Future<T>, value: T): void {
  const cb = fut._callbacks;
  // Tasks are the only done callbacks that are objects (see DoneListener). Told from a function
  // (an await's settleNative, the common other case) by `typeof cb !== 'function'`, one bit of
  // its map: `typeof cb === 'object'` is a longer test (callgrind, async echo: ~20 instructions).
  if (cb !== null && typeof cb !== 'function' && !Array.isArray(cb)) {
    const task = cb as Task<unknown>;
    if (task._waiters === fut && (task._flags & (IN_YIELD_STAR | WAKE_WAITING_TASKS)) === IN_YIELD_STAR && fut._state === PENDING) {
      fut._callbacks = null;
      fut.setResult(value);
      task._loop._pushReady(task);
      return;
    }
  }
  // An await's settling may be due now rather than a pass later (see Future._setResultWaking).
  fut._setResultWaking(value);
}

// The completion reactions of every async-function task started by _firstCall: each runs in the
// frame it was registered in, whose `completes` is its task. No frame: the hooks carrier's hooks
// were removed when the task's loop closed, and a closed loop's task stays as it was.
// An async function's promise: its completion reaction is registered in the task's frame (or
// the one a createTask(child()) inside fn left current, which inherits `completes`), so that it
// runs there and finds the task in it: no closures to keep while the task waits.
// Told by `constructor`, not by Object.getPrototypeOf (a runtime call here: ~120 instructions
// per task): a plain promise's is an inline-cached read of Promise.prototype's, and a Future's,
// which must not be read here (it is the await hook, see future.ts), is ruled out first. An
// object that fails this (a Promise subclass) is attached through its own then(), as any thenable.
function isNativePromise(r: unknown): r is Promise<unknown> {
  return r instanceof Promise && !(r instanceof Future) && r.constructor === Promise;
}

function completingTask(): Task<unknown> | null {
  const frame = current.frame;
  return frame === null ? null : (frame.completes as Task<unknown> | null);
}
function onCoroutineReturned(v: unknown): void {
  completingTask()?._coroutineReturned(v);
}
function onCoroutineFailed(e: unknown): void {
  completingTask()?._coroutineFailed(e);
}

/** A Future for anything awaitable: a Future as is, a generator as a Task, a promise wrapped. */
export function ensureFuture<T = unknown>(aw: unknown, loop?: EventLoop): Future<T> {
  if (aw instanceof Future) {
    if (loop !== undefined && aw._loop !== loop) throw codedError(TypeError, 'ERR_DIFFERENT_LOOP', 'The future belongs to a different loop than the one given');
    return aw as Future<T>;
  }
  const l = loop ?? getRunningLoop();
  if (isGenerator(aw)) return l.createTask(aw as Generator<unknown, T, unknown>);
  if (isThenable(aw)) {
    const f = new Future<T>(l);
    aw.then(
      (v) => {
        if (f._state === PENDING && !l.isClosed()) f.setResult(v as T);
      },
      (e) => {
        if (f._state !== PENDING || l.isClosed()) return;
        if (e instanceof CancelledError) {
          f._cancelledExc = e;
          f.cancel(e.message);
        } else f._setException(e);
      },
    );
    return f;
  }
  throw invalidArgType('aw', 'an evloop Future, a coroutine or an awaitable', aw);
}

/** The task whose code is running (generator step, or async-function task frame), else undefined. */
export function currentTask(): Task<unknown> | undefined {
  // Only Tasks are ever put in these slots (context.ts types them by the part it needs).
  const t = current.stepTask as Task<unknown> | null;
  if (t !== null) return t;
  const frame = current.frame;
  if (frame !== null && frame.task !== null && frame.task._state === PENDING) return frame.task as Task<unknown>;
  return undefined;
}

/** Pending tasks of `loop` (default: the running loop). */
export function allTasks(loop?: EventLoop): Set<Task<unknown>> {
  return new Set((loop ?? getRunningLoop())._tasks);
}

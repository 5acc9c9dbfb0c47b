// asyncio.TaskGroup (3.12 semantics) as TaskGroup.run(body): body(tg) creates child tasks; the
// group waits for all of them; the first failure cancels the rest and the body; failures are
// thrown as one AggregateError; cancelling the group's task reaches every child.
import { Future } from './future';
import { validateFunction } from '../util/validate';
import { getRunningLoop } from './running';
import { CancelledError, EventLoopError } from '../util/errors';
import { currentTask, isGenerator, type Coroutine, type Task, type TaskOptions } from './task';
import type { AbstractEventLoop as EventLoop } from './events';

export type TaskGroupBody<T> = (tg: TaskGroup) => Generator<unknown, T, any> | PromiseLike<T> | T;

/** Runs an await-style generator inside an async function, so each await happens in the caller's frame. */
async function drive<T>(gen: Generator<unknown, T, unknown>): Promise<T> {
  let r = gen.next();
  while (!r.done) {
    let value: unknown;
    let failed = false;
    try {
      value = await (r.value as PromiseLike<unknown>);
    } catch (e) {
      failed = true;
      value = e;
    }
    r = failed ? gen.throw(value) : gen.next(value);
  }
  return r.value;
}

export class TaskGroup {
  private _tasks = new Set<Task<unknown>>();
  private _errors: unknown[] = [];
  private _entered = false;
  private _exiting = false;
  private _aborting = false;
  private _parentTask: Task<unknown> | null = null;
  private _parentCancelRequested = false;
  private _onCompletedFut: Future<boolean> | null = null;
  private readonly _onTaskDone = (task: Task<unknown>): void => this._taskDone(task);

  constructor(private readonly _loop: EventLoop) {}

  /**
   * Runs `body(tg)` — an async function or a generator function — as a task that owns the group;
   * resolves to the body's result once every child has finished.
   */
  static run<T>(body: TaskGroupBody<T>, options?: Omit<TaskOptions, 'loop'>): Task<T> {
    validateFunction(body, 'body');
    const loop = getRunningLoop();
    const tg = new TaskGroup(loop);
    return loop.createTask<T>(() => {
      tg._entered = true;
      tg._parentTask = currentTask() ?? null;
      let r: unknown;
      try {
        r = body(tg);
      } catch (e) {
        r = Promise.reject(e);
      }
      if (isGenerator(r)) return tg._generatorMain(r as Generator<unknown, T, unknown>);
      return tg._asyncMain(r as PromiseLike<T> | T);
    }, options);
  }

  /** Creates a child task of the group. Not allowed once the group is finished or shutting down. */
  createTask<T>(coro: Coroutine<T>, options?: Omit<TaskOptions, 'loop'>): Task<T> {
    if (!this._entered) throw new EventLoopError('TaskGroup has not been entered', 'ERR_TASKGROUP_STATE');
    if (this._exiting && this._tasks.size === 0) throw new EventLoopError('TaskGroup is finished', 'ERR_TASKGROUP_STATE');
    if (this._aborting) throw new EventLoopError('TaskGroup is shutting down', 'ERR_TASKGROUP_STATE');
    const task = this._loop.createTask(coro, options);
    task._addCallbackInternal(this._onTaskDone);
    this._tasks.add(task as Task<unknown>);
    return task;
  }

  private *_generatorMain<T>(gen: Generator<unknown, T, unknown>): Generator<unknown, T, unknown> {
    let result: T | undefined;
    let failed = false;
    let exc: unknown;
    try {
      result = yield* gen;
    } catch (e) {
      failed = true;
      exc = e;
    }
    yield* this._exit(failed, exc);
    return result as T;
  }

  private async _asyncMain<T>(body: PromiseLike<T> | T): Promise<T> {
    let result: T | undefined;
    let failed = false;
    let exc: unknown;
    try {
      result = await body;
    } catch (e) {
      failed = true;
      exc = e;
    }
    await drive(this._exit(failed, exc));
    return result as T;
  }

  // asyncio 3.12 TaskGroup.__aexit__
  private *_exit(failed: boolean, exc: unknown): Generator<unknown, void, unknown> {
    this._exiting = true;
    let propagateCancellation: unknown = null;
    if (failed && exc instanceof CancelledError) propagateCancellation = exc;
    if (failed && !this._aborting) this._abort();
    while (this._tasks.size !== 0) {
      if (this._onCompletedFut === null) this._onCompletedFut = this._loop.createFuture<boolean>();
      try {
        yield* this._onCompletedFut;
      } catch (e) {
        if (!(e instanceof CancelledError)) throw e;
        if (!this._aborting) {
          propagateCancellation = e;
          this._abort();
        }
      }
      this._onCompletedFut = null;
    }
    if (this._parentCancelRequested && this._parentTask !== null) {
      // We cancelled our own task to stop the body: withdraw that request.
      if (this._parentTask.uncancel() === 0) propagateCancellation = null;
    }
    if (propagateCancellation !== null && this._errors.length === 0) throw propagateCancellation;
    if (failed && !(exc instanceof CancelledError)) this._errors.push(exc);
    if (this._errors.length !== 0) {
      const errors = this._errors;
      this._errors = [];
      throw new AggregateError(errors, 'unhandled errors in a TaskGroup');
    }
  }

  private _abort(): void {
    this._aborting = true;
    for (const t of this._tasks) if (!t.done()) t.cancel();
  }

  private _taskDone(task: Task<unknown>): void {
    this._tasks.delete(task);
    if (this._onCompletedFut !== null && this._tasks.size === 0 && !this._onCompletedFut.done()) this._onCompletedFut.setResult(true);
    if (task.cancelled()) return;
    const exc = task.exception();
    if (exc === null) return;
    this._errors.push(exc);
    const parent = this._parentTask;
    if (parent === null || parent.done()) {
      this._loop.callExceptionHandler({ message: 'Task was destroyed but its TaskGroup parent is done', exception: exc, task });
      return;
    }
    if (!this._aborting && !this._parentCancelRequested) {
      this._abort();
      this._parentCancelRequested = true;
      parent.cancel();
    }
  }
}

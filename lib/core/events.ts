// asyncio's events.py: the loop and the task as the modules below them see them.
//
// future.ts, task.ts and the combinators run on a loop, and the loop (loop.ts) creates futures
// and tasks: for the import graph to stay one-way, the lower modules program against these
// interfaces and never import loop.ts or task.ts. loop.ts completes AbstractEventLoop with the
// concrete class by declaration merging (`interface AbstractEventLoop extends EventLoop {}`), so a
// Future's `getLoop()` is typed as the whole loop without future.ts importing it.
import type { Handle, Runnable, TimerHandle } from './handles';
import type { QueuedTimer } from './timer-queue';

/** A future's states (Future._state); named by FutureState. */
export const PENDING = 0;
export const CANCELLED = 1;
export const FINISHED = 2;


/** What an exception handler receives. */
export interface ExceptionContext {
  message: string;
  exception?: unknown;
  future?: object;
  task?: object;
  handle?: object;
  [key: string]: unknown;
}

/** The loop's contract for futures, tasks and the combinators (completed by loop.ts). */
export interface AbstractEventLoop {
  time(): number;
  callSoon(cb: (...args: any[]) => unknown, ...args: unknown[]): Handle;
  callLater(ms: number, cb: (...args: any[]) => unknown, ...args: unknown[]): TimerHandle;
  callAt(when: number, cb: (...args: any[]) => unknown, ...args: unknown[]): TimerHandle;
  isRunning(): boolean;
  isClosed(): boolean;
  callExceptionHandler(context: ExceptionContext): void;
  /** @internal Queues a runnable (a future's callbacks) without a Handle. */
  _pushReady(r: Runnable): void;
  /** @internal */ _debug: boolean;
  /** @internal How many runnables the running pass began with (0 outside a pass). */
  _passSize: number;
  /** @internal Runnables queued for the next pass. */
  _readyLen: number;
  /** @internal A future's awaiting code may be resumed without a pass now (see EventLoop._wakeNow). */
  _wakeNow: boolean;
  /** @internal Queues a timer that runs itself (sleep's future), in scheduling order among equal deadlines. */
  _addTimer(t: QueuedTimer & Runnable, when: number): void;
}

/**
 * A task as its frame carries it (context.ts): the future an async-function task awaits tells
 * the task, so that cancelling the task reaches that future. Implemented by Task.
 */
export interface AwaitingTask {
  /** @internal */ _state: number;
  /** @internal */ _loop: AbstractEventLoop;
  /** @internal The task now awaits `fut` (a cancel requested meanwhile is applied to it). */
  _awaiting(fut: object): void;
  /** @internal `fut` settled and the task resumes. */
  _awaited(fut: object): void;
  /** @internal Resuming from a bare yield (sleep(0)): the CancelledError a pending cancel throws there, else null. */
  _cancelAtYield(): unknown;
}

// loop.runInExecutor (asyncio's run_in_executor), installed on EventLoop.prototype from this
// layer. An executor is anything with Piscina's shape, `run(task, { signal }) → Promise`;
// cancelling the Future aborts the signal, which is how Piscina stops a task (taken off its
// queue, or its worker terminated when already running). The work is also aborted when the
// loop closes with the Future still pending, so no worker outlives the program's loop.
import { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { invalidArgType, validateObject } from '../util/validate';
import { defaultThreadPool, threadTask, settleThreadOutcome } from './to-thread';
import { runAbortable } from './abortable';

export interface Executor<T = unknown, R = unknown> {
  run(task: T, options: { signal: AbortSignal }): PromiseLike<R>;
}

declare module '../core/loop' {
  interface EventLoop {
    /**
     * Runs `task` on `executor` (`executor.run(task, { ...options, signal })`); the Future
     * resolves to its result, and cancelling it aborts the signal. With `null` as the executor,
     * runs on evloop's own thread pool, as `toThread(file, exportName, ...args)`.
     */
    runInExecutor<R = unknown>(executor: Executor<any, R>, task: unknown, options?: Record<string, unknown>): Future<R>;
    runInExecutor<R = unknown>(executor: null | undefined, file: string | URL, exportName?: string, ...args: unknown[]): Future<R>;
  }
}

function isExecutor(x: unknown): x is Executor {
  return x !== null && typeof x === 'object' && typeof (x as Executor).run === 'function';
}

/** AbortSignal.any (Node 20.3+), or the same by hand before it. */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  const any = (AbortSignal as { any?: (signals: AbortSignal[]) => AbortSignal }).any;
  if (typeof any === 'function') return any([a, b]);
  const controller = new AbortController();
  for (const s of [a, b]) {
    if (s.aborted) controller.abort(s.reason);
    else s.addEventListener('abort', () => controller.abort(s.reason), { once: true });
  }
  return controller.signal;
}

function runInExecutor(this: EventLoop, executor: unknown, ...args: unknown[]): Future<unknown> {
  if (executor === null || executor === undefined) {
    const task = threadTask(args[0], args[1], args.slice(2));
    const pool = defaultThreadPool();
    return runAbortable(this, (signal) => pool.run(task, { signal }), settleThreadOutcome);
  }
  if (!isExecutor(executor)) throw invalidArgType('executor', 'null or an object with a run(task, { signal }) method', executor);
  const [task, options] = args;
  if (options !== undefined) validateObject(options, 'options');
  const extra = options as { signal?: unknown } | undefined;
  return runAbortable(
    this,
    (signal) => {
      // A signal of the caller's own still works: either one aborts the task.
      const theirs = extra?.signal;
      const both = theirs instanceof AbortSignal ? eitherSignal(signal, theirs) : signal;
      return executor.run(task, { ...extra, signal: both });
    },
    (fut, value) => fut.setResult(value),
  );
}

(EventLoop.prototype as unknown as { runInExecutor: typeof runInExecutor }).runInExecutor = runInExecutor;

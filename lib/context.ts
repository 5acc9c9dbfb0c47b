// Who is running: the loop whose pass executes, the generator task whose step executes, and —
// for async-function tasks, whose continuations run as V8 microtasks outside any step — a
// per-task Frame carried by AsyncLocalStorage through every promise continuation.
import { AsyncLocalStorage } from 'async_hooks';
import type { EventLoop } from './loop';
import type { Task } from './task';

/** The async context an async-function task runs in; `task` may be handed over (see Task). */
export class Frame {
  constructor(public task: Task<unknown> | null) {}
}

export const frames = new AsyncLocalStorage<Frame>();

// Code that runs after `require('evloop')` in the same synchronous execution (the usual
// `run(main())` at top level) gets a frame, so a promise created there can be handed to its task.
frames.enterWith(new Frame(null));

export const current = {
  /** The loop whose pass is executing, if any. */
  passLoop: null as EventLoop | null,
  /** The generator task whose step is executing, if any. */
  stepTask: null as Task<unknown> | null,
  /** Loops between runForever() and stop(), most recent last. */
  runningLoops: [] as EventLoop[],
};

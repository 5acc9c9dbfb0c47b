// Who is running: the loop whose pass executes, the generator task whose step executes, and —
// for async-function tasks, whose continuations run as V8 microtasks outside any step — a
// per-task Frame carried through every promise continuation.
//
// The Frame is carried by V8's promise hooks directly (init: the promise remembers the current
// frame; before/after: its reaction runs in that frame), not by AsyncLocalStorage. Node 20's
// AsyncLocalStorage rides on async_hooks, which gives every promise an async id, a resource and
// an emitInit call: it made every promise in the process 2-3x slower in micro-benchmarks and
// cost a getStore() per await. The hooks here do two property stores per promise and are only
// installed while an EventLoop is open (created and not closed), so a process that merely loads
// evloop pays nothing.
import { promiseHooks } from 'v8';
import type { AbstractEventLoop, AwaitingTask } from './events';

/** The async context an async-function task runs in; `task` may be handed over (see Task). */
export class Frame {
  constructor(public task: AwaitingTask | null) {}
}

const FRAME = Symbol('evloop.frame');
type Tagged = { [FRAME]?: Frame | null };

export const current = {
  /** The loop whose pass is executing, if any. */
  passLoop: null as AbstractEventLoop | null,
  /** The generator task whose step is executing, if any. */
  stepTask: null as AwaitingTask | null,
  /** Loops between runForever() and stop(), most recent last. */
  runningLoops: [] as AbstractEventLoop[],
  /**
   * The frame of the code running now (null: none known, e.g. a continuation of a promise made
   * before the hooks were installed). Code that runs after `require('evloop')` in the same
   * synchronous execution (the usual `run(main)` at top level) starts in a frame of its own, so a
   * promise created there can be handed to its task.
   */
  frame: new Frame(null) as Frame | null,
};

// Promise jobs never nest, so one slot is enough to restore the frame of the code around them.
let outerFrame: Frame | null = null;

function onInit(promise: Promise<unknown>): void {
  (promise as Tagged)[FRAME] = current.frame;
}
function onBefore(promise: Promise<unknown>): void {
  outerFrame = current.frame;
  const f = (promise as Tagged)[FRAME];
  current.frame = f === undefined ? null : f;
}
function onAfter(): void {
  current.frame = outerFrame;
  outerFrame = null;
}

let users = 0;
let stopHooks: (() => void) | null = null;

/** An EventLoop was created: carry frames through promises while any loop is open. */
export function retainFrames(): void {
  if (users++ === 0) {
    const stops = [promiseHooks.onInit(onInit), promiseHooks.onBefore(onBefore), promiseHooks.onAfter(onAfter)];
    stopHooks = () => {
      for (const stop of stops) stop();
    };
  }
}

/** An EventLoop was closed. */
export function releaseFrames(): void {
  if (users === 0) return;
  if (--users === 0 && stopHooks !== null) {
    stopHooks();
    stopHooks = null;
  }
}

/** Runs `fn` in `frame` (the frame follows every promise `fn` creates). */
export function runInFrame<R>(frame: Frame, fn: () => R): R {
  const prev = current.frame;
  current.frame = frame;
  try {
    return fn();
  } finally {
    current.frame = prev;
  }
}

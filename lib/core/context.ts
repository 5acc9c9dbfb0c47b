// Who is running: the loop whose pass executes, the generator task whose step executes, and —
// for async-function tasks, whose continuations run as V8 microtasks outside any step — a
// per-task Frame carried through every promise continuation.
//
// The Frame is carried by V8's promise hooks directly (init: the promise remembers the current
// frame; before/after: its reaction runs in that frame), not by AsyncLocalStorage. Node 20's
// AsyncLocalStorage rides on async_hooks, which gives every promise an async id, a resource and
// an emitInit call: it made every promise in the process 2-3x slower in micro-benchmarks and
// cost a getStore() per await. The hooks here do two property stores per promise, but any
// promise hook — even an empty one — slows every promise in the process (bench/promise-hooks.js:
// +20-25% for empty hooks, +55-90% for these), so they are installed only while an async-function
// task is pending (Task retains them): a loop running protocols, callbacks and generator tasks
// costs other promise code nothing.
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
   * before the hooks were installed, or made outside any task: see onInit).
   */
  frame: new Frame(null) as Frame | null,
  /** Counts promise jobs while the hooks are on (Future's then tells a V8 thenable job by it). */
  job: 0,
};

// Promise jobs never nest, so one slot is enough to restore the frame of the code around them.
// NO_JOB: no before hook seen (the hooks were installed inside the running job).
const NO_JOB = new Frame(null);
let outerFrame: Frame | null = NO_JOB;

function onInit(promise: Promise<unknown>): void {
  // Only promises made in a task's frame are tagged: adding a property takes a promise off V8's
  // initial promise map (and its fast paths), which other code in the process should not pay.
  const f = current.frame;
  if (f !== null && f.task !== null) (promise as Tagged)[FRAME] = f;
}
function onBefore(promise: Promise<unknown>): void {
  current.job++;
  outerFrame = current.frame;
  const f = (promise as Tagged)[FRAME];
  current.frame = f === undefined ? null : f;
}
function onAfter(): void {
  if (outerFrame === NO_JOB) return;
  current.frame = outerFrame;
  outerFrame = NO_JOB;
}

let users = 0;
let stopHooks: (() => void) | null = null;
let stopSoon: NodeJS.Immediate | null = null;

/** An async-function task started (or is about to): carry frames through promises. */
export function retainFrames(): void {
  if (users++ !== 0) return;
  if (stopSoon !== null) {
    clearImmediate(stopSoon);
    stopSoon = null;
  }
  if (stopHooks === null) {
    const stops = [promiseHooks.onInit(onInit), promiseHooks.onBefore(onBefore), promiseHooks.onAfter(onAfter)];
    stopHooks = () => {
      for (const stop of stops) stop();
    };
  }
}

/** That task is done (or its loop closed). */
export function releaseFrames(): void {
  if (users === 0) return;
  if (--users !== 0 || stopSoon !== null) return;
  // Inside a job whose before hook ran (a task usually finishes in one), its after hook must
  // still run: the hooks are then removed from a macrotask.
  if (outerFrame === NO_JOB) {
    uninstall();
  } else {
    stopSoon = setImmediate(uninstall);
    stopSoon.unref();
  }
}

function uninstall(): void {
  stopSoon = null;
  if (users !== 0 || stopHooks === null) return;
  stopHooks();
  stopHooks = null;
}

/** @internal Whether the promise hooks are installed now (tests and benches). */
export function framesCarried(): boolean {
  return stopHooks !== null;
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

// Who is running: the loop whose pass executes, the generator task whose step executes, and —
// for async-function tasks, whose continuations run as V8 microtasks outside any step — a
// per-task Frame carried through every promise continuation.
//
// Two carriers for the Frame, chosen once at load:
// - 'embedder-data' (Node 20): V8's continuation-preserved embedder data (native/context_data.cc).
//   Every promise reaction records the value current when it is registered (`await`, then()) and
//   V8 restores it while the reaction runs, at no cost to any promise. The frame is that value.
// - 'hooks' (elsewhere, or EVLOOP_ASYNC_CONTEXT=hooks): V8's promise hooks (init: the promise
//   remembers the current frame; before/after: its reaction runs in that frame). Any promise
//   hook — even an empty one — slows every promise in the process (bench/promise-hooks.js:
//   +20-25% for empty hooks, +55-90% for these), so they are installed only while an
//   async-function task is pending (Task retains them). Node 20's AsyncLocalStorage is not an
//   option: it rides on async_hooks (an async id, a resource and an emitInit per promise: 2-3x
//   slower promises and a getStore() per await). On Node 22+ the embedder data belongs to Node's
//   own AsyncLocalStorage (AsyncContextFrame), so evloop does not touch it there.
import { promiseHooks } from 'v8';
import { binding } from '../native/binding';
import { codedError } from '../util/validate';
import type { AbstractEventLoop, AwaitingTask } from './events';

/** The async context an async-function task runs in; `task` may be handed over (see Task). */
export class Frame {
  /**
   * Futures awaited in this frame while it had no task (an async function started by a callback
   * or a generator step, in the loop's pass frame): `createTask(child())` hands them to the task
   * that takes the frame over. Only pending ones are kept (see noteAwaitWithoutTask).
   */
  waiters: object[] | null = null;
  /**
   * The task whose coroutine's promise was given its completion reaction in this frame: the
   * reaction runs in the frame and finds its task here instead of in two closures of its own.
   * It stays when `task` is handed over, and the caller's fresh frame inherits it (Task).
   */
  completes: AwaitingTask | null = null;
  constructor(public task: AwaitingTask | null) {}
}

/** `fut` is awaited in `frame`, which has no task yet; `isPending` tells the futures still pending. */
export function noteAwaitWithoutTask<F extends object>(frame: Frame, fut: F, isPending: (f: F) => boolean): void {
  const ws = frame.waiters as F[] | null;
  if (ws === null) {
    frame.waiters = [fut];
    return;
  }
  // Bounded by what is still pending: a frame may stay current for a long-running async function
  // that no task ever takes over.
  if (ws.length >= 8) {
    let kept = 0;
    for (let i = 0; i < ws.length; i++) if (isPending(ws[i]!)) ws[kept++] = ws[i]!;
    ws.length = kept;
  }
  ws.push(fut);
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
  outerFrame = current.frame;
  const f = (promise as Tagged)[FRAME];
  current.frame = f === undefined ? null : f;
}
function onAfter(): void {
  if (outerFrame === NO_JOB) return;
  current.frame = outerFrame;
  outerFrame = NO_JOB;
}

// The embedder-data carrier, when this node has it and it is evloop's to use (see the header).
interface EmbedderData {
  get(): unknown;
  set(value: unknown): void;
}
function embedderData(): EmbedderData | null {
  const wanted = process.env.EVLOOP_ASYNC_CONTEXT;
  if (wanted === 'hooks') return null;
  if (wanted !== undefined && wanted !== 'embedder-data') {
    throw codedError(TypeError, 'ERR_INVALID_ARG_VALUE', `EVLOOP_ASYNC_CONTEXT must be 'hooks' or 'embedder-data', got ${JSON.stringify(wanted)}`);
  }
  const v8Major = Number(process.versions.v8.split('.')[0]);
  // Only where nothing else uses the slot: Node 22+ keeps its AsyncLocalStorage there, and in
  // Electron, Chromium's task attribution does.
  const ours = v8Major === 11 && process.versions.electron === undefined;
  const data = ours ? binding.contextData() : null;
  if (data === null && wanted === 'embedder-data') {
    throw codedError(Error, 'ERR_ASYNC_CONTEXT_UNAVAILABLE', `EVLOOP_ASYNC_CONTEXT=embedder-data: not available on V8 ${process.versions.v8}`);
  }
  return data;
}
const data = embedderData();

/** How async-function task frames are carried: 'embedder-data' or 'hooks' (see the header). */
export const asyncContextCarrier: 'embedder-data' | 'hooks' = data !== null ? 'embedder-data' : 'hooks';

// Inside a loop pass, from the moment it enters its frame (enterPassFrame) to its end, the
// embedder data changes only by evloop's own `current.frame =`: V8 sets it only between promise
// jobs, and a pass runs within one. There the value set last is known without a native call
// (each is ~200 instructions): a task's first step and the awaits it makes before it first
// waits read it there.
let knownFrame: Frame | null = null;
let frameKnown = false;

if (data !== null) {
  const get = data.get;
  const set = data.set;
  delete (current as { frame?: unknown }).frame;
  Object.defineProperty(current, 'frame', {
    enumerable: true,
    get(): Frame | null {
      if (frameKnown) return knownFrame;
      const f = get();
      return f === undefined ? null : (f as Frame | null);
    },
    set(f: Frame | null): void {
      set(f === null ? undefined : f);
      if (frameKnown) knownFrame = f;
    },
  });
}

let users = 0;
let stopHooks: (() => void) | null = null;
let stopSoon: NodeJS.Immediate | null = null;

/** An async-function task started (or is about to): carry frames through promises. */
export function retainFrames(): void {
  if (data !== null) return; // V8 carries the embedder data through every promise anyway
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

/** @internal Whether frames are carried through promises now (tests and benches). */
export function framesCarried(): boolean {
  return data !== null || stopHooks !== null;
}

/** @internal Whether evloop's promise hooks are installed now (tests and benches). */
export function promiseHooksInstalled(): boolean {
  return stopHooks !== null;
}

/**
 * Whether a promise job registered while a frame is current (in a pass) runs in that frame: with
 * embedder data, V8 records and restores it; the hooks carrier tags only promises made in a
 * task's frame.
 */
export const jobsRunInRegisteringFrame = data !== null;

/**
 * A loop pass starts (always at the top of a promise job or a Node callback): its callbacks run
 * in `frame`. Returns what leavePassFrame needs. With embedder data, what was current before is
 * not read (a native call per pass): a pass is the whole of its job or Node callback.
 */
export function enterPassFrame(frame: Frame): Frame | null {
  if (data !== null) {
    current.frame = frame;
    knownFrame = frame;
    frameKnown = true;
    return null;
  }
  const prev = current.frame;
  current.frame = frame;
  return prev;
}

/** A pass run as a promise job found its own frame current (V8 restored it: see _runPass). */
export function passFrameIsCurrent(frame: Frame): void {
  if (data === null) return;
  knownFrame = frame;
  frameKnown = true;
}

/** A pass failed outside its callbacks: what it knew of the frame is forgotten. */
export function forgetPassFrame(): void {
  frameKnown = false;
  knownFrame = null;
}

/**
 * The pass ended (see enterPassFrame). With embedder data: a pass run as a promise job needs
 * nothing (V8 clears the value after every job); one run from a Node callback clears it, so
 * that the other callbacks of Node's turn do not run in the loop's frame.
 */
export function leavePassFrame(prev: Frame | null, inPromiseJob: boolean): void {
  frameKnown = false;
  knownFrame = null;
  if (data !== null && inPromiseJob) return;
  current.frame = prev;
}

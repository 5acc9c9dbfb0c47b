// The event loop: asyncio's BaseEventLoop, running inside Node's own loop without blocking it.
//
// A *pass* (asyncio's _run_once) moves expired timers to the ready queue and runs exactly the
// callbacks that were ready when it began; what they schedule waits for the next pass. Passes
// are triggered by: the native Poller's batch callback (I/O), one Node timer armed for the
// earliest deadline, and — when work remains — a bounded chain of microtask passes (so async
// function continuations interleave in FIFO order) followed by a setImmediate pass (so Node's
// timers, fs and http keep running).
//
// I/O hooks for transports (the whole contract):
//   loop.addReader(fd, cb, ...args) / loop.addWriter(fd, cb, ...args)
//     One reader and one writer handle per fd; adding again replaces the handle (the old one is
//     cancelled). Level-triggered: the callback runs in every pass in which the fd is ready,
//     until removed. READ/ERROR/HUP readiness runs the reader, WRITE/ERROR/HUP the writer.
//   loop.removeReader(fd) / loop.removeWriter(fd) → boolean (was one registered)
//   loop._readers[fd] / loop._writers[fd] — the live Handles (undefined when none), read-only.
//   Close an fd only after removing its reader and writer (binding.close also drops it from the
//   poller, but the loop's own slots would be stale).
//   loop._addAutoReader(fd, cb, sink) — a reader whose fd the native poller reads itself, into
//     the loop's read slab, during the batch: `sink._autoReadAt(k)` says the bytes are the view
//     loop._batchView(k), valid until the pass that runs the sink ends; `sink._autoRead` gets 0
//     at EOF or -errno. The sink itself is queued as the pass's runnable (no handle: its `_run`
//     checks itself whether it still reads). A read that would block queues nothing. Entries
//     the poller did not read (no room left in the slab) queue `cb`: it reads. A batch that
//     finds the ready queue empty is not queued: its pass calls `sink._readNow(view, pass)`
//     where `_run` would have run (see _walkBatch). The sink stays the fd's until the fd is
//     closed (_forgetSendSink), through pauses of reading and a plain reader's time (the
//     batch that read for it may still be walked; afterwards the poller reads it no more, and
//     its entries queue the fd's reader, if any).
//   loop._setSendSink(fd, sink) — who hears about fd's batched sends that do not go whole (set
//     once, when the fd gets its transport: not looked at per write).
//   loop._queueSend(fd, data, length, pending) → boolean — a small write is copied into the loop's
//     send buffer and sent, with the other writes queued meanwhile, in one native call
//     (sendBatch) when the pass ends — or, for a write made outside a pass, in a microtask.
//     false: not queued (too big, or the sink's earlier bytes had to be sent first); the caller
//     sends it itself. `pending`: the sink has bytes in the batch (they are flushed before a
//     write of its that is not queued). Consecutive writes of one sink share an entry. An entry that
//     did not go whole reports to `sink._sendResult(result, bytes)` (bytes sent, READ_WOULD_BLOCK
//     or -errno; `bytes` a view of the entry, valid only during the call). loop._sendGen changes
//     at every flush: a sink whose remembered generation still matches has bytes in the batch.
//     loop._flushSends() sends the batch now (for a sink that must order a close or a direct
//     send after it). An fd is one sink's at a time: its batched bytes are flushed before it is
//     closed, and loop._forgetSendSink(fd) then lets the sink go.
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import { EventLoopError } from '../util/errors';
import { Future, newFuture } from './future';
import { describe, validateFd, validateFunction, validateNumber, validateObject, validateOneOf } from '../util/validate';
import { Task, ensureFuture, type Coroutine, type TaskOptions } from './task';
import { current as runningContext, enterPassFrame, forgetPassFrame, Frame, jobsRunInRegisteringFrame, leavePassFrame, passFrameIsCurrent } from './context';
import type { ExceptionContext as BaseExceptionContext } from './events';
import { Handle, TimerHandle, type PassFrame, type Runnable } from './handles';
import { getRunningLoop as runningLoop } from './running';
import { toLogger, type Logger } from '../util/logger';
import { clearSlots } from '../util/clear-slots';
import { TimerQueue, objects, type QueuedTimer } from './timer-queue';
import { BufferView } from '../native/buffer-view';
import { BACKEND_OPTIONS, EVENT_AUTO_READ, EVENT_ERROR, EVENT_HUP, EVENT_READ, EVENT_WRITE, MAX_READ, MIN_BATCH_READ, MIN_READ, READ_NOT_DONE, READ_WOULD_BLOCK, SEND_BATCH_ENTRIES, SEND_BATCH_MAX, SEND_BUFFER_SIZE, SLAB_SIZE, type BackendName, type BackendOption, type Binding, type NativePoller } from '../native/binding';

export type { BackendOption };

export interface EventLoopOptions {
  debug?: boolean;
  backend?: BackendOption;
  logger?: unknown;
}

export interface ExceptionContext extends BaseExceptionContext {
  future?: Future<unknown>;
  task?: Task<unknown>;
  handle?: Handle;
}

export type ExceptionHandler = (loop: EventLoop, context: ExceptionContext) => void;

/**
 * Something that holds an fd on a loop (a transport, a server, a socket): the loop closes it
 * when the loop itself is closed, since a closed loop can run no callback to tell its owner.
 */
export interface LoopResource {
  _closeForLoop(): void;
}

declare module './events' {
  // The concrete loop completes the contract the lower modules see (see events.ts).
  interface AbstractEventLoop extends EventLoop {}
}

const EMPTY: unknown[] = [];

/** A timer's extra arguments past the first two (callLater's and callAt's third on). */
function extraArgs(all: IArguments): unknown[] {
  return Array.prototype.slice.call(all, 2);
}
const RESOLVED = Promise.resolve();
// A module constant, not the import (a load from context.ts's exports object and a map check at
// every use: see future.ts's module constants).
const current = runningContext;

// asyncio's thresholds for rebuilding the heap without cancelled timers.
const MIN_SCHEDULED_TIMER_HANDLES = 100;
const MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5;
// How many passes may follow each other as microtasks before one yields to Node (setImmediate).
const MICROTASK_PASSES = 64;
// setImmediate turns between renewals of the ready queues' backing stores (see _renewReadyStores).
const READY_RENEWAL_TURNS = 4;
// Up to this many slots, the ready queue keeps its capacity from pass to pass.
const READY_CAPACITY_KEPT = 1 << 16;

let bindingCache: Binding | null = null;
function loadBinding(): Binding {
  // Lazy: futures, tasks and timers work without the native addon; only I/O needs it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  if (bindingCache === null) bindingCache = (require('../native/binding') as { binding: Binding }).binding;
  return bindingCache;
}

const READ = EVENT_READ;
const WRITE = EVENT_WRITE;
const AUTO = EVENT_AUTO_READ;
// An error or hang-up wakes both sides: the reader sees EOF/the error, the writer EPIPE.
const READ_READY = EVENT_READ | EVENT_ERROR | EVENT_HUP;
const WRITE_READY = EVENT_WRITE | EVENT_ERROR | EVENT_HUP;
// Module constants copied: an imported one is a property load of the module's exports in
// every use, and these are read once per batched write or read.
const BATCH_MAX = SEND_BATCH_MAX;
const BATCH_ENTRIES = SEND_BATCH_ENTRIES;
const BUFFER_SIZE = SEND_BUFFER_SIZE;
const NOT_DONE = READ_NOT_DONE;
const WOULD_BLOCK = READ_WOULD_BLOCK;

/**
 * Where an auto-reader's reads go (see _addAutoReader): `_autoRead` is called during the batch,
 * not in a pass; the sink itself is then queued, and its `_run` delivers in the pass.
 */
export interface AutoReadSink extends Runnable {
  /** Called while the loop walks the batch: it must not queue callbacks. */
  _autoRead(result: Buffer | number): void;
  /** The bytes read for the sink are `loop._batchView(index)` until the pass that runs it ends. */
  _autoReadAt(index: number): void;
  /** Called in the pass, where its queued `_run` would have run: the bytes read for the sink. */
  _readNow(data: Buffer, pass: PassFrame): void;
}

/** Who gets told about a queued send that did not go whole (see _queueSend). */
export interface SendSink {
  _sendResult(result: number, bytes: Buffer): void;
}

export class EventLoop {
  /** In debug mode, callbacks running longer than this (ms) are logged at warn. */
  slowCallbackDuration = 100;

  /** @internal */ _debug = false;
  // The ready queue is an array and a count, not the array's length: setting a JS array's length
  // to 0 frees its backing store, so a queue emptied that way regrows (and reallocates) on every
  // pass. Slots past the count hold undefined, so a finished pass keeps nothing alive.
  // Made in the elements kind they hold (see timer-queue.ts), so a new loop's queues do not send
  // code optimized on an older loop's back to the interpreter.
  /** @internal */ _ready: Runnable[] = objects();
  /** @internal */ _readyLen = 0;
  /**
   * @internal While true, a future set now may settle its awaiting code's native promise at once
   * (Future._setResultWaking) instead of through the next pass: the pass was started by a
   * macrotask (no microtask was pending when it began) and holds no runnable queued by
   * _pushReady or due timers (none of its entries resumes code through a microtask later in
   * it). With nothing queued for the next pass either, the resumption then runs where asyncio
   * would run it: after this pass, before anything queued after it. Not once stop() is called:
   * the loop stops after this pass, and asyncio steps the task only when it runs again.
   */
  _wakeNow = false;
  // A runnable was queued by _pushReady (a future's callbacks, a task's step, a yield) since the
  // last pass began.
  private _pushedRunnable = false;
  private _readySpare: Runnable[] = objects();
  private _immediateTurns = 0;
  /** @internal */ _timers = new TimerQueue<QueuedTimer & Runnable>();
  // Transports, servers and sockets holding an fd on this loop (see trackResource).
  private _openResources = new Set<LoopResource>();
  /** @internal */ _readers: (Handle | undefined)[] = [];
  /** @internal */ _writers: (Handle | undefined)[] = [];
  private _interest: number[] = [];
  private _sinks: (AutoReadSink | undefined)[] = [];
  private _poller: NativePoller | null = null;
  // The poller's batch arrays, kept: `poller.events` is a native getter call.
  private _events: Int32Array | null = null;
  private _reads: Int32Array | null = null;
  private _slab: Buffer | null = null;
  // Its memory, which the views handed to sinks are made on (see BufferView).
  private _slabBytes: ArrayBuffer | null = null;
  private _slabBase = 0;
  // The views of the batch's reads, for the pass that runs their sinks (see _dispatchIO).
  private _batchViews: Buffer[] | null = null;
  // The pass's queued sends: bytes in _sendBuf, entries [fd, offset, length, result] in _sendOps.
  private _sendBuf: Buffer | null = null;
  private _sendOps: Int32Array | null = null;
  // Their ArrayBuffers, which is what sendBatch is handed: native reads an ArrayBuffer's memory
  // far cheaper than a typed array's.
  private _sendBufBytes: ArrayBuffer | null = null;
  private _sendOpsBytes: ArrayBuffer | null = null;
  // Who queued sends on each fd, set once per fd by its transport (_setSendSink): a store per
  // write into an array also cleared at every flush cost ~30 instructions a message, and the
  // check per write whether it had changed ~25 a write (callgrind). An fd's batched bytes are
  // sent before it is closed, so an entry's fd names its sink.
  private _sendSinks: (SendSink | undefined)[] = [];
  private _sendCount = 0;
  private _sendUsed = 0;
  /** @internal Changes at every flush of the send batch (see _queueSend). */ _sendGen = 0;
  private readonly _backend: BackendOption;

  private _running = false;
  private _stopping = false;
  private _closed = false;
  private _inPass = false;
  // A batch the next pass walks (see _walkBatch): its number of events, 0 for none.
  private _batchLen = 0;
  /** @internal (AbstractEventLoop) */ _passSize = 0;
  private _passScheduled = false;
  private _microPasses = 0;
  /** I/O was polled or delivered since the last macrotask pass (setImmediate / Node timer). */
  private _ioPolled = false;
  private _nodeTimer: NodeJS.Timeout | null = null;
  private _nodeTimerWhen = Infinity;
  private _timersChanged = false;
  private _stopResolve: (() => void) | null = null;
  private _passFrame = new Frame(null);
  // The pass frame is made current only once the pass reaches a runnable that runs user code
  // (see _enterPassFrame): a pass that only resumes awaiting code sets nothing.
  private _passFrameEntered = false;
  // The pass made a frame current (its own, or a task's for its first step: see _switchFrame),
  // which it puts back at its end; _framePrev is what was current before.
  private _frameSet = false;
  private _framePrev: Frame | null = null;
  // The microtask pass scheduled at the end of a pass that had entered its frame: V8 runs that
  // job in the frame (see jobsRunInRegisteringFrame), so the next pass finds it current.
  private _jobFrame: Frame | null = null;

  private _exceptionHandler: ExceptionHandler | null = null;
  /** @internal */ _logger: Logger;
  // Pending tasks of this loop (allTasks), unordered: each task knows its slot, so removing one
  // is a swap with the last, with no hashing and no table to shrink and regrow as tasks come and
  // go by the thousand.
  /** @internal */ _tasks: Task<unknown>[] = objects();

  /** @internal */
  _addTask(t: Task<unknown>): void {
    t._taskIndex = this._tasks.length;
    this._tasks.push(t);
  }

  /** @internal */
  _removeTask(t: Task<unknown>): void {
    const i = t._taskIndex;
    if (i < 0) return;
    t._taskIndex = -1;
    const last = this._tasks.pop()!;
    if (last !== t) {
      this._tasks[i] = last;
      last._taskIndex = i;
    }
  }

  constructor(options: EventLoopOptions = {}) {
    validateObject(options, 'options');
    this._backend = validateOneOf(options.backend ?? 'auto', 'options.backend', BACKEND_OPTIONS);
    this._logger = toLogger(options.logger);
    if (options.debug) this._debug = true;
  }

  // ---- time and scheduling ----

  /** @internal Cancelled timers still queued (the queue counts them; tests read and reset it). */
  get _timerCancelledCount(): number {
    return this._timers.cancelled;
  }
  set _timerCancelledCount(n: number) {
    this._timers.cancelled = n;
  }

  /** Monotonic time in milliseconds (float), the clock of callAt and every timer. */
  time(): number {
    return performance.now();
  }

  callSoon(cb: (...args: any[]) => unknown, ...args: unknown[]): Handle {
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    validateFunction(cb, 'callback');
    const h = new Handle(cb, args);
    this._ready[this._readyLen++] = h;
    if (!this._inPass && !this._passScheduled && this._running === true) this._schedulePass();
    return h;
  }

  // The extra arguments are read from `arguments`, not a rest parameter: a rest parameter is a
  // fresh array on every call, and a queued timer is the hot case (see docs/loop.md, timers).
  // One or two of them go into an array literal of exactly that size: an array grown by push
  // from empty gets room for 16, and it lives (and is copied by every scavenge) as long as the
  // timer waits.
  callLater(ms: number, cb: (...args: any[]) => unknown, ...args: unknown[]): TimerHandle;
  callLater(ms: number, cb: (...args: any[]) => unknown): TimerHandle {
    validateNumber(ms, 'delay');
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    validateFunction(cb, 'callback');
    /* eslint-disable prefer-rest-params */
    const argc = arguments.length;
    const args = argc === 2 ? EMPTY : argc === 3 ? [arguments[2]] : argc === 4 ? [arguments[2], arguments[3]] : extraArgs(arguments);
    /* eslint-enable prefer-rest-params */
    const when = performance.now() + ms;
    const t = new TimerHandle(when, cb, args);
    this._addTimer(t, when);
    return t;
  }

  callAt(when: number, cb: (...args: any[]) => unknown, ...args: unknown[]): TimerHandle;
  callAt(when: number, cb: (...args: any[]) => unknown): TimerHandle {
    validateNumber(when, 'when');
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    validateFunction(cb, 'callback');
    /* eslint-disable prefer-rest-params */
    const argc = arguments.length;
    const args = argc === 2 ? EMPTY : argc === 3 ? [arguments[2]] : argc === 4 ? [arguments[2], arguments[3]] : extraArgs(arguments);
    /* eslint-enable prefer-rest-params */
    const t = new TimerHandle(when, cb, args);
    this._addTimer(t, when);
    return t;
  }

  /** @internal */
  _addTimer(t: QueuedTimer & Runnable, when: number): void {
    this._timers.push(t, when);
    if (when < this._nodeTimerWhen && this._running) {
      if (this._inPass) this._timersChanged = true;
      else this._armTimer();
    }
  }

  /** @internal Queue a runnable (a future's callbacks) without a Handle. */
  _pushReady(r: Runnable): void {
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    this._ready[this._readyLen++] = r;
    this._pushedRunnable = true;
    if (!this._inPass && !this._passScheduled && this._running === true) this._schedulePass();
  }

  createFuture<T = unknown>(): Future<T> {
    return newFuture<T>(this);
  }

  createTask<T>(coro: Coroutine<T>, options?: TaskOptions): Task<T> {
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    return new Task<T>(coro, options, this);
  }

  // ---- I/O ----

  addReader(fd: number, cb: (...args: any[]) => unknown, ...args: unknown[]): Handle {
    validateFd(fd);
    validateFunction(cb, 'callback');
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    const mask = this._interest[fd] ?? 0;
    if ((mask & (READ | AUTO)) !== READ) this._setInterest(fd, mask, (mask | READ) & ~AUTO);
    const h = new Handle(cb, args);
    const old = this._readers[fd];
    this._readers[fd] = h;
    if (old !== undefined) old.cancel();
    return h;
  }

  /** @internal A reader whose reads the poller does during the batch (see the top of this file). */
  _addAutoReader(fd: number, cb: () => unknown, sink: AutoReadSink): Handle {
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    const mask = this._interest[fd] ?? 0;
    if ((mask & (READ | AUTO)) !== (READ | AUTO)) this._setInterest(fd, mask, mask | READ | AUTO);
    if (this._slab === null) this._newSlab();
    this._sinks[fd] = sink;
    const h = new Handle(cb, EMPTY);
    const old = this._readers[fd];
    this._readers[fd] = h;
    if (old !== undefined) old.cancel();
    return h;
  }

  private _newSlab(): void {
    const slab = Buffer.allocUnsafe(SLAB_SIZE);
    this._slab = slab;
    this._slabBytes = slab.buffer as ArrayBuffer;
    this._slabBase = slab.byteOffset;
    this._poller!.setReadSlab(slab, MIN_BATCH_READ, MAX_READ);
  }

  /** @internal Queues a small write for one native call with the others (see the top of this file). */
  _queueSend(fd: number, data: Uint8Array, length: number, pending: boolean): boolean {
    let n = this._sendCount;
    const last = pending && n !== 0 && this._sendOps![4 * n - 4] === fd;
    if (length > BATCH_MAX || this._closed) {
      if (pending) this._flushSends();
      return false;
    }
    if ((pending && !last) || this._sendUsed + length > BUFFER_SIZE || n === BATCH_ENTRIES) {
      this._flushSends();
      // The sink's earlier bytes may have gone short and be queued by it now: these must not
      // overtake them, so the sink decides.
      if (pending) return false;
      n = 0;
    }
    if (this._sendBuf === null) {
      // Views of whole ArrayBuffers (offset 0), so offsets into the views are offsets into them.
      this._sendBufBytes = new ArrayBuffer(BUFFER_SIZE);
      this._sendOpsBytes = new ArrayBuffer(4 * 4 * BATCH_ENTRIES);
      this._sendBuf = Buffer.from(this._sendBufBytes);
      this._sendOps = new Int32Array(this._sendOpsBytes);
    }
    // Outside a pass (an async function resumed after it, plain Node code), the batch goes in a
    // microtask queued behind the continuations already waiting: those the same I/O batch woke.
    if (this._inPass === false && this._sendFlushQueued === false) {
      this._sendFlushQueued = true;
      RESOLVED.then(this._sendFlushTask);
    }
    const at = this._sendUsed;
    this._sendUsed = at + length;
    const ops = this._sendOps!;
    if (last) {
      ops[4 * n - 2]! += length;
    } else {
      const o = 4 * n;
      ops[o] = fd;
      ops[o + 1] = at;
      ops[o + 2] = length;
      this._sendCount = n + 1;
    }
    // The copy last (it cannot throw: `data` is a Uint8Array with bytes, and there is room):
    // after a call V8 checks again what it knew of the objects it touches next (callgrind:
    // 13 instructions a write when the entry was written after it).
    this._sendBuf.set(data, at);
    return true;
  }

  private _sendFlushQueued = false;
  private readonly _sendFlushTask = (): void => {
    this._sendFlushQueued = false;
    while (this._sendCount !== 0) this._flushSends();
  };

  /** @internal Sends what is queued, now. */
  _flushSends(): void {
    const n = this._sendCount;
    if (n === 0) return;
    const ops = this._sendOps!;
    const buf = this._sendBuf!;
    // A new generation and an empty batch before any sink hears back: a sink may write again.
    this._sendGen++;
    this._sendCount = 0;
    this._sendUsed = 0;
    let incomplete = loadBinding().sendBatch(this._sendBufBytes!, this._sendOpsBytes!, n);
    const sinks = this._sendSinks;
    for (let i = 0; i < n && incomplete !== 0; i++) {
      const o = 4 * i;
      const length = ops[o + 2]!;
      if (ops[o + 3] === length) continue;
      incomplete--;
      try {
        sinks[ops[o]!]!._sendResult(ops[o + 3]!, buf.subarray(ops[o + 1]!, ops[o + 1]! + length));
      } catch (exception) {
        this.callExceptionHandler({ message: 'Exception in a send result', exception });
      }
    }
  }

  /** @internal `sink` hears about fd's batched sends that did not go whole (see _queueSend). */
  _setSendSink(fd: number, sink: SendSink): void {
    this._sendSinks[fd] = sink;
  }

  /** @internal The fd is being closed (its batched bytes were sent): its send and read sinks are let go. */
  _forgetSendSink(fd: number): void {
    if (this._sendSinks[fd] !== undefined) this._sendSinks[fd] = undefined;
    if (this._sinks[fd] !== undefined) this._sinks[fd] = undefined;
  }

  addWriter(fd: number, cb: (...args: any[]) => unknown, ...args: unknown[]): Handle {
    validateFd(fd);
    validateFunction(cb, 'callback');
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    const mask = this._interest[fd] ?? 0;
    if ((mask & WRITE) === 0) this._setInterest(fd, mask, mask | WRITE);
    const h = new Handle(cb, args);
    const old = this._writers[fd];
    this._writers[fd] = h;
    if (old !== undefined) old.cancel();
    return h;
  }

  removeReader(fd: number): boolean {
    validateFd(fd);
    const h = this._readers[fd];
    if (h === undefined) return false;
    this._readers[fd] = undefined;
    // The sink stays: what the batch being walked read for the fd is still its (a transport
    // paused by an earlier callback keeps it for resumeReading). It goes when the fd is closed
    // (_forgetSendSink).
    h.cancel();
    if (!this._closed) {
      const mask = this._interest[fd] ?? 0;
      this._setInterest(fd, mask, mask & ~(READ | AUTO));
    }
    return true;
  }

  removeWriter(fd: number): boolean {
    validateFd(fd);
    const h = this._writers[fd];
    if (h === undefined) return false;
    this._writers[fd] = undefined;
    h.cancel();
    if (!this._closed) {
      const mask = this._interest[fd] ?? 0;
      this._setInterest(fd, mask, mask & ~WRITE);
    }
    return true;
  }

  /**
   * @internal Registers something holding an fd on this loop: close() closes whatever is still
   * open, so a program that forgets to close a connection leaks no fd past its loop.
   */
  _trackResource(resource: LoopResource): void {
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    this._openResources.add(resource);
  }

  /** @internal The resource closed itself. */
  _untrackResource(resource: LoopResource): void {
    this._openResources.delete(resource);
  }

  /** The native poller's backend name, once I/O has been used (undefined before). */
  get backend(): BackendName | undefined {
    return this._poller?.backend;
  }

  private _setInterest(fd: number, oldMask: number, newMask: number): void {
    if (oldMask === newMask) return;
    const poller = this._poller ?? this._createPoller();
    if (oldMask === 0) poller.add(fd, newMask);
    else if (newMask === 0) poller.remove(fd);
    else poller.modify(fd, newMask);
    this._interest[fd] = newMask;
  }

  private _createPoller(): NativePoller {
    const binding = loadBinding();
    const name = this._backend === 'auto' ? binding.backends[0]! : this._backend;
    const poller = new binding.Poller(name);
    this._poller = poller;
    this._events = poller.events;
    this._reads = poller.reads;
    if (this._running) poller.start(this._onIO);
    return poller;
  }

  // One call per ready batch, from libuv (MakeCallback: microtasks run after it returns).
  private readonly _onIO = (n: number): void => {
    if (!this._running) return;
    this._ioPolled = true;
    this._microPasses = 0;
    if (this._inPass) {
      this._dispatchIO(n);
      return;
    }
    if (this._readyLen === 0 && !this._debug) this._batchLen = n;
    else this._dispatchIO(n);
    this._runPass();
  };

  private _dispatchIO(n: number): void {
    const ev = this._events!;
    const reads = this._reads!;
    const sinks = this._sinks;
    const ready = this._ready;
    const end = n * 2;
    // The views go into an array made for this batch, and each sink is told its index: a sink
    // is an old object, and storing a young view into an old object takes the write barrier's
    // slow path (~50 instructions a message); into a young array it does not. A batch delivered
    // inside a pass (not expected: the poller is waited on between passes) hands the views over.
    const inPass = this._inPass;
    let views: Buffer[] | null = null;
    // Kept in locals for the loop (field loads each time otherwise): the slab is replaced only
    // after it, and the sinks' _autoRead and _autoReadAt queue nothing.
    const slabBytes = this._slabBytes!;
    const slabBase = this._slabBase;
    let len = this._readyLen;
    for (let i = 0; i < end; i += 2) {
      const e = ev[i + 1]!;
      let readSide = (e & READ_READY) !== 0;
      if (readSide) {
        // The fd's transport, if it ever was an auto-reader (see _addAutoReader).
        const sink = sinks[ev[i]!];
        const length = reads[i + 1]!;
        if (sink !== undefined && length > 0) {
          // The view is taken now: the slab may be replaced before the sink runs.
          const view = new BufferView(slabBytes, slabBase + reads[i]!, length);
          if (inPass) sink._autoRead(view);
          else {
            if (views === null) views = new Array<Buffer>(n);
            views[i >> 1] = view;
            sink._autoReadAt(i >> 1);
          }
          ready[len++] = sink;
          if ((e & WRITE_READY) === 0) continue;
          readSide = false;
        }
      }
      len = this._queueRest(ev[i]!, e, readSide, reads[i + 1]!, ready, len);
    }
    this._readyLen = len;
    if (views !== null) this._batchViews = views;
    if (this._slab !== null && SLAB_SIZE - reads[reads.length - 1]! < MIN_READ) {
      this._newSlab();
      // The ready queue's spare (empty here, or the queue itself during a pass, which puts its
      // own back at its end) gets a new backing store: the pass swaps the two, so both are
      // renewed every two slabs (~20 batches) and stay young. A transport is young for its first
      // seconds (until two scavenges: ~3 s at 300,000 messages a second), and queuing it into an
      // old store took the write barrier's slow path, ~50 instructions a read; a new store per
      // batch instead cost ~20 a read in growing it (callgrind).
      this._readySpare = objects();
    }
  }

  /** @internal The view of a read of the batch being run (see AutoReadSink._autoReadAt). */
  _batchView(index: number): Buffer {
    return this._batchViews![index]!;
  }

  private _pollIO(): void {
    const poller = this._poller;
    if (poller !== null && poller.size !== 0) {
      this._ioPolled = true;
      const n = poller.wait(0);
      // Called just before a pass: with nothing queued, that pass walks the batch (see _onIO).
      if (n > 0) {
        if (this._readyLen === 0 && !this._debug) this._batchLen = n;
        else this._dispatchIO(n);
      }
    }
  }

  /**
   * The pass of a batch that found the ready queue empty (_batchLen): asyncio's order without
   * queuing the batch. A read the poller made goes straight from the batch to its sink, in the
   * batch's order; the other ready handles and the timers due go into `q`, this pass's list, and
   * run after the walk, as they would after the reads queued before them. Nothing else was
   * queued, so nothing older runs later than it would have; each sink's read is delivered where
   * its queued `_run` would have been, with the same checks (callgrind, protocol echo 64x1: with
   * the queue's entries, the batch's array of views and the sinks' indexes into it, the dispatch,
   * the pass and its runner ran 309 instructions a message; the walk and its pass run 153).
   * Returns the new length of `q`.
   */
  private _walkBatch(n: number, q: Runnable[]): number {
    const ev = this._events!;
    const reads = this._reads!;
    const sinks = this._sinks;
    const end = n * 2;
    // The slab is replaced only after the walk (see _runBatch).
    const slabBytes = this._slabBytes!;
    const slabBase = this._slabBase;
    let len = 0;
    for (let i = 0; i < end; i += 2) {
      const e = ev[i + 1]!;
      let readSide = (e & READ_READY) !== 0;
      if (readSide) {
        // Looked up now, after the callbacks before it: still the transport the poller read
        // for (a sink goes only when its fd is closed, and then what was read is dropped).
        const sink = sinks[ev[i]!];
        const length = reads[i + 1]!;
        if (sink !== undefined && length > 0) {
          const view = new BufferView(slabBytes, slabBase + reads[i]!, length);
          try {
            sink._readNow(view, this);
          } catch (exception) {
            this._enterPassFrame();
            this._callbackError(sink, exception);
          }
          if ((e & WRITE_READY) === 0) continue;
          readSide = false;
        }
      }
      len = this._queueRest(ev[i]!, e, readSide, reads[i + 1]!, q, len);
    }
    return len;
  }

  /**
   * What a batch entry wakes besides a read the poller made for a sink (which the walk and the
   * dispatch each hand over their own way), queued into `q` from `len`: with `readSide`, the
   * fd's reader when the poller did not read it (no room left in the slab, or no auto-reader),
   * or the sink told of EOF or an error; then the writer. Returns the new length. Looked up
   * when called: in the walk, after the callbacks before it.
   */
  private _queueRest(fd: number, e: number, readSide: boolean, length: number, q: Runnable[], len: number): number {
    if (readSide) {
      const sink = this._sinks[fd];
      if (sink === undefined || length === NOT_DONE) {
        // Not read: the reader reads (none while the sink's reading is paused).
        const h = this._readers[fd];
        if (h !== undefined) q[len++] = h;
      } else if (length !== WOULD_BLOCK) {
        sink._autoRead(length);
        q[len++] = sink;
      }
    }
    if ((e & WRITE_READY) !== 0) {
      const h = this._writers[fd];
      if (h !== undefined) q[len++] = h;
    }
    return len;
  }

  // ---- passes ----

  /** `jobFrame`: the frame that is current now and that a promise job queued here runs in. */
  private _schedulePass(jobFrame: Frame | null = null): void {
    this._passScheduled = true;
    this._jobFrame = null;
    if (this._microPasses < MICROTASK_PASSES) {
      this._microPasses++;
      this._jobFrame = jobFrame;
      // A promise reaction, not queueMicrotask: Node's queueMicrotask makes an AsyncResource per call.
      RESOLVED.then(this._microtaskPass);
    } else {
      setImmediate(this._immediatePass);
    }
  }

  private readonly _microtaskPass = (): void => {
    this._passScheduled = false;
    if (this._running !== true || this._inPass) return;
    // Chained microtask passes run inside one Node turn: once this turn has polled (or the native
    // batch has delivered), polling again before every pass is a syscall that rarely finds
    // anything. The chain ends after MICROTASK_PASSES with a setImmediate pass, which polls.
    if (!this._ioPolled) this._pollIO();
    this._runPass(true);
  };

  private readonly _immediatePass = (): void => {
    this._passScheduled = false;
    this._microPasses = 0;
    if (!this._running || this._inPass) return;
    this._ioPolled = false;
    this._pollIO();
    this._renewReadyStores();
    this._runPass();
  };

  /**
   * Every READY_RENEWAL_TURNS setImmediate turns, the ready queues get new backing stores.
   * Queuing a young runnable (a future just made, as sleep(0)'s) into an old store takes the
   * write barrier's slow path (~55 instructions a runnable, callgrind); a store renewed every few
   * hundred passes is almost always young (as the resolvers' holder in future.ts). The arrays
   * themselves stay (a young array stored into the loop at every swap would take the barrier
   * there): the spare, empty between passes, is emptied of its store, and the queue's runnables
   * move into it (young, it takes them without the barrier) before the two are swapped. Not in
   * the pass, and out of _immediatePass, which stays small enough for V8 to optimize early
   * (callgrind: inline there, ~14 instructions a yield until it was).
   */
  private _renewReadyStores(): void {
    if (++this._immediateTurns % READY_RENEWAL_TURNS !== 0) return;
    const q = this._ready;
    const spare = this._readySpare;
    spare.length = 0;
    const n = this._readyLen;
    for (let i = 0; i < n; i++) spare.push(q[i]!);
    q.length = 0;
    this._ready = spare;
    this._readySpare = q;
  }

  private readonly _onNodeTimer = (): void => {
    this._nodeTimer = null;
    this._nodeTimerWhen = Infinity;
    if (!this._running || this._inPass) return;
    this._microPasses = 0;
    this._ioPolled = false;
    this._pollIO();
    this._runPass();
  };

  private _runPass(inPromiseJob = false): void {
    const prevLoop = current.passLoop;
    current.passLoop = this;
    this._inPass = true;
    // The pass's own frame (see _enterPassFrame): awaits noted on it in an earlier pass are past
    // handing over (docs/tasks.md, point 4).
    const passFrame = this._passFrame;
    if (passFrame.task !== null) this._passFrame = new Frame(null);
    else if (passFrame.waiters !== null) passFrame.waiters = null;
    if (inPromiseJob && this._jobFrame === this._passFrame) {
      this._passFrameEntered = true;
      this._frameSet = true;
      passFrameIsCurrent(this._passFrame);
    }
    this._jobFrame = null;
    this._wakeNow = !inPromiseJob && !this._pushedRunnable && !this._debug && !this._stopping;
    this._pushedRunnable = false;
    try {
      this._runPassBody();
    } catch (err) {
      // Not a callback's error (those are handled): the loop is broken, but the frame known
      // for the pass must not outlive it (see context.ts).
      this._wakeNow = false;
      forgetPassFrame();
      throw err;
    }
    this._wakeNow = false;

    this._inPass = false;
    current.passLoop = prevLoop;
    // Still current (a promise job keeps it until it ends) for a next pass scheduled below.
    const frameKept = inPromiseJob && this._passFrameEntered && jobsRunInRegisteringFrame;
    if (this._frameSet) {
      this._frameSet = false;
      this._passFrameEntered = false;
      leavePassFrame(this._framePrev, inPromiseJob);
      this._framePrev = null;
    }
    if (this._stopping) {
      this._finishStop();
      return;
    }
    if (this._readyLen !== 0) {
      if (!this._passScheduled) this._schedulePass(frameKept ? this._passFrame : null);
    }
    if (this._timersChanged || (this._nodeTimer === null && this._timers.length !== 0)) {
      this._timersChanged = false;
      this._armTimer();
    }
  }

  private _runPassBody(): void {
    if (this._debug) this._enterPassFrame();
    const batch = this._batchLen;
    if (batch !== 0) {
      this._batchLen = 0;
      this._runBatch(batch);
      return;
    }
    if (this._timers.length !== 0) this._expireTimers();
    const n = this._readyLen;
    if (n !== 0) {
      const q = this._ready;
      this._ready = this._readySpare;
      this._readyLen = 0;
      this._passSize = n;
      if (this._debug) this._runDebug(q, n);
      else this._runReady(q, n);
      this._passSize = 0;
      // A burst's capacity is not kept (an empty array frees its backing store). The ready
      // queue's backing store is not renewed to spare the write barrier of queuing a young
      // runnable into an old store (~25 instructions an op with 16 workers on a pool): the extra
      // code changed how V8 inlined the pass, and an async task switch cost ~560 more (callgrind).
      if (n > READY_CAPACITY_KEPT) q.length = 0;
      else clearSlots(q, 0, n);
      this._readySpare = q;
    }
    // Its sinks have run: the views are theirs now, or dropped.
    if (this._batchViews !== null) this._batchViews = null;
    // A sink told of a short send may write again, into a new batch: that goes too.
    if (this._sendCount !== 0) {
      this._enterPassFrame();
      while (this._sendCount !== 0) this._flushSends();
    }
  }

  // The pass of a batch (see _walkBatch): the ready queue was empty when the batch came.
  private _runBatch(batch: number): void {
    const q = this._ready;
    // What the batch's callbacks queue waits for the next pass.
    this._ready = this._readySpare;
    this._readyLen = 0;
    const timers = this._timers;
    let now = -1;
    if (timers.length !== 0) {
      if (timers.length > MIN_SCHEDULED_TIMER_HANDLES && timers.cancelled / timers.length > MIN_CANCELLED_TIMER_HANDLES_FRACTION) {
        timers.purge();
      }
      // Due now, before the walk (as _expireTimers would find them), queued after it.
      now = performance.now();
      if (timers.peekWhen() <= now) this._wakeNow = false;
    }
    // At least as many runnables as the old queue would have held (see settleNative's `sole`).
    this._passSize = batch;
    let n = this._walkBatch(batch, q);
    if (now >= 0) n = timers.takeDue(now, q, n);
    if (n !== 0) {
      this._passSize = batch + n;
      this._runReady(q, n);
      if (n > READY_CAPACITY_KEPT) q.length = 0;
      else clearSlots(q, 0, n);
    }
    this._passSize = 0;
    // As _dispatchIO: a new slab once this one is nearly used, and the ready queue's spare
    // renewed with it.
    const reads = this._reads!;
    if (this._slab !== null && SLAB_SIZE - reads[reads.length - 1]! < MIN_READ) {
      this._newSlab();
      this._readySpare = objects();
    } else {
      this._readySpare = q;
    }
    if (this._sendCount !== 0) {
      this._enterPassFrame();
      while (this._sendCount !== 0) this._flushSends();
    }
  }

  // A method of its own: a pass of many callbacks (a burst of timers falling due) gets this loop
  // compiled while it runs (on-stack replacement) before the code after it has ever run; inside
  // _runPass, reaching that code sent the pass back to the interpreter, again and again (24
  // times in a process's first burst of 100,000 timers).
  private _runReady(q: Runnable[], n: number): void {
    for (let i = 0; i < n; i++) {
      const r = q[i]!;
      try {
        r._run(this);
      } catch (exception) {
        this._enterPassFrame();
        this._callbackError(r, exception);
      }
    }
  }

  /**
   * Callbacks run in the pass's own frame: an async function they start (createTask(child()))
   * must not share its frame with whatever scheduled this pass. Entered (a native call with
   * embedder data) before the first runnable that runs user code, not for a pass that only
   * resumes awaiting code: V8 runs that code later, in the frame its `await` recorded.
   */
  /** @internal */
  _enterPassFrame(): void {
    if (this._passFrameEntered === true) return;
    this._passFrameEntered = true;
    if (this._frameSet) {
      current.frame = this._passFrame;
    } else {
      this._frameSet = true;
      this._framePrev = enterPassFrame(this._passFrame);
    }
  }

  /**
   * @internal A task's first step makes its own frame current and leaves it so when its
   * coroutine is an async function (Task._firstCall): the pass frame is set again only if a
   * later runnable runs user code, so a pass that starts tasks sets the frame once per task
   * instead of three times. Known without a native call, as the pass frame is.
   */
  _switchFrame(frame: Frame): void {
    this._passFrameEntered = false;
    if (this._frameSet) {
      current.frame = frame;
    } else {
      this._frameSet = true;
      this._framePrev = enterPassFrame(frame);
    }
  }

  private _runDebug(q: Runnable[], n: number): void {
    for (let i = 0; i < n; i++) {
      const h = q[i]!;
      const t0 = performance.now();
      try {
        h._run(this);
      } catch (exception) {
        this._callbackError(h, exception);
      }
      const dt = performance.now() - t0;
      if (dt >= this.slowCallbackDuration) {
        this._logger.warn(`Executing ${String(h)} took ${dt.toFixed(3)} ms`, undefined, 'slow callback');
      }
    }
  }

  private _callbackError(h: Runnable, exception: unknown): void {
    if (h instanceof Future) {
      this.callExceptionHandler({ message: `Exception in callback of ${h}`, exception, future: h });
    } else {
      this.callExceptionHandler({ message: `Exception in callback ${String(h)}`, exception, handle: h as Handle });
    }
  }

  private _expireTimers(): void {
    const timers = this._timers;
    if (timers.length > MIN_SCHEDULED_TIMER_HANDLES && timers.cancelled / timers.length > MIN_CANCELLED_TIMER_HANDLES_FRACTION) {
      timers.purge();
    }
    const len = timers.takeDue(performance.now(), this._ready, this._readyLen);
    // A due timer may be a sleep's future, whose run resumes its awaiting code by a microtask.
    if (len !== this._readyLen) this._wakeNow = false;
    this._readyLen = len;
  }

  private _armTimer(): void {
    const timers = this._timers;
    let top = timers.peek();
    while (top !== undefined && top._cancelled) {
      timers.shift();
      top = timers.peek();
    }
    if (top === undefined) {
      this._disarmTimer();
      return;
    }
    const when = timers.peekWhen();
    if (this._nodeTimer !== null && this._nodeTimerWhen <= when) return;
    if (this._nodeTimer !== null) clearTimeout(this._nodeTimer);
    // Node fires with whole milliseconds and may be a little early against performance.now();
    // an early firing just finds nothing due and re-arms.
    // Node turns a delay over 2^31-1 ms into 1 ms (with a warning): cap it, and let the early
    // firing re-arm, as for any early firing.
    const delay = Math.min(Math.max(0, Math.ceil(when - performance.now())), 0x7fffffff);
    this._nodeTimerWhen = when;
    this._nodeTimer = setTimeout(this._onNodeTimer, delay);
  }

  private _disarmTimer(): void {
    if (this._nodeTimer !== null) {
      clearTimeout(this._nodeTimer);
      this._nodeTimer = null;
    }
    this._nodeTimerWhen = Infinity;
  }

  // ---- running ----

  /** Runs until stop(); resolves once the pass in which stop() was called has finished. */
  runForever(): Promise<void> {
    if (this._closed) return Promise.reject(new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED'));
    if (this._running) return Promise.reject(new EventLoopError('This event loop is already running', 'ERR_LOOP_RUNNING'));
    this._running = true;
    this._microPasses = 0;
    current.runningLoops.push(this);
    return new Promise<void>((resolve) => {
      this._stopResolve = resolve;
      if (this._poller !== null) this._poller.start(this._onIO);
      // asyncio: stop() before run_forever() makes it run one pass and return.
      if (this._stopping || this._readyLen !== 0) this._schedulePass();
      if (this._timers.length !== 0) this._armTimer();
    });
  }

  /** Runs the loop until `aw` is done; resolves to its result (or rejects with its exception). */
  async runUntilComplete<T>(aw: unknown): Promise<T> {
    if (this._closed) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
    if (this._running) throw new EventLoopError('This event loop is already running', 'ERR_LOOP_RUNNING');
    const fut = (typeof aw === "function" ? this.createTask(aw as () => T) : ensureFuture(aw, this)) as Future<T>;
    const stopWhenDone = (): void => this.stop();
    if (fut.done()) this.callSoon(stopWhenDone);
    else fut._addCallbackInternal(stopWhenDone);
    try {
      await this.runForever();
    } finally {
      fut.removeDoneCallback(stopWhenDone);
    }
    if (!fut.done()) throw new EventLoopError('Event loop stopped before Future completed.', 'ERR_LOOP_STOPPED');
    return fut.result();
  }

  /** Stops after the current pass (or the next one, when called outside a pass). */
  stop(): void {
    this._stopping = true;
    // No next pass: a read settled later in this one must not resume its task (see _wakeNow).
    this._wakeNow = false;
    if (this._running && !this._inPass && !this._passScheduled) this._schedulePass();
  }

  private _finishStop(): void {
    this._stopping = false;
    this._running = false;
    const i = current.runningLoops.lastIndexOf(this);
    if (i >= 0) current.runningLoops.splice(i, 1);
    this._disarmTimer();
    if (this._poller !== null) this._poller.stop();
    const resolve = this._stopResolve;
    this._stopResolve = null;
    if (resolve !== null) resolve();
  }

  isRunning(): boolean {
    return this._running;
  }

  isClosed(): boolean {
    return this._closed;
  }

  /** Drops pending callbacks and timers and closes the native poller. Idempotent; not while running. */
  close(): void {
    if (this._running) throw new EventLoopError('Cannot close a running event loop', 'ERR_LOOP_RUNNING');
    if (this._closed) return;
    // The loop holds its pending tasks (so none is collected mid-flight, asyncio's pitfall):
    // closing it is what destroys them. asyncio reports that when such a task is collected.
    if (this._debug) {
      for (const task of this._tasks) {
        if (!task.done()) this.callExceptionHandler({ message: 'Task was destroyed but it is pending!', task });
      }
    }
    // Writes made since the last pass (outside one) were accepted: they go before the fds close.
    while (this._sendCount !== 0) this._flushSends();
    this._closed = true;
    // Its pending async-function tasks will never finish: they stop holding the promise hooks.
    for (const task of this._tasks) task._releaseFrames();
    this._ready = objects();
    this._readyLen = 0;
    this._timers.clear();
    this._disarmTimer();
    for (const h of this._readers) h?.cancel();
    for (const h of this._writers) h?.cancel();
    this._readers = [];
    this._writers = [];
    this._interest = [];
    this._sinks = [];
    this._slab = null;
    this._slabBytes = null;
    this._sendSinks = [];
    for (const resource of this._openResources) resource._closeForLoop();
    this._openResources.clear();
    if (this._poller !== null) {
      this._poller.close();
      this._poller = null;
      this._events = null;
      this._reads = null;
    }
  }

  // ---- errors and debug ----

  setExceptionHandler(handler: ExceptionHandler | null): void {
    if (handler !== null) validateFunction(handler, 'handler');
    this._exceptionHandler = handler;
  }

  getExceptionHandler(): ExceptionHandler | null {
    return this._exceptionHandler;
  }

  /**
   * asyncio's default handler: logs the message and the exception at error level. The Error
   * itself is the detail, so the evloop logger prints its stack and pino records it under `err`.
   */
  defaultExceptionHandler(context: ExceptionContext): void {
    const exc = context.exception;
    const key = context.task ? context.task.getName() : context.handle ? String(context.handle) : context.future ? String(context.future) : context.key;
    const detail = exc === undefined || exc instanceof Error ? exc : describe(exc);
    this._logger.error(context.message, detail, key);
  }

  callExceptionHandler(context: ExceptionContext): void {
    const handler = this._exceptionHandler;
    if (handler === null) {
      try {
        this.defaultExceptionHandler(context);
      } catch {
        // a failing logger must not break the loop
      }
      return;
    }
    try {
      handler(this, context);
    } catch (exception) {
      try {
        this.defaultExceptionHandler({ message: 'Unhandled error in exception handler', exception, context });
      } catch {
        // as above
      }
    }
  }

  setDebug(enabled: boolean): void {
    this._debug = Boolean(enabled);
  }

  getDebug(): boolean {
    return this._debug;
  }

  getLogger(): Logger {
    return this._logger;
  }

  toString(): string {
    return `<EventLoop running=${this._running} closed=${this._closed} debug=${this._debug}>`;
  }
}

export function newEventLoop(options?: EventLoopOptions): EventLoop {
  return new EventLoop(options);
}

/** The loop running the current code: the pass in progress, else the current task's, else the last started. */
export function getRunningLoop(): EventLoop {
  return runningLoop() as EventLoop;
}


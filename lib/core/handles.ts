// The loop's scheduled callbacks: asyncio's Handle (callSoon, readers, writers) and TimerHandle
// (callLater, callAt).
/** The running pass as a runnable sees it: it enters its own frame, once (EventLoop._enterPassFrame). */
export interface PassFrame {
  _enterPassFrame(): void;
  /** Makes a task's frame (context.ts's Frame) current for its first step, left so (EventLoop._switchFrame). */
  _switchFrame(frame: object): void;
}

/** Something the ready queue can run: a Handle, or a Future running its done callbacks. */
export interface Runnable {
  /**
   * Runs it, in `pass` (none: outside a pass). Before code that reads or captures the async
   * context (user callbacks, a coroutine step), it has the pass enter its frame.
   */
  _run(pass?: PassFrame): void;
}

const EMPTY: unknown[] = [];

/** The timer queue as a queued timer sees it: it counts cancelled timers to know when to purge. */
export interface TimerOwner {
  /** @internal */ cancelled: number;
}

// A deadline is kept on its TimerHandle as the two halves of its bits, two small integers in the
// object itself: a number field would be a separate heap number, one more object for every
// young-generation GC to copy while the timer waits (the queue keeps its own copy, unboxed).
const WHEN = new Float64Array(1);
const WHEN_HALVES = new Int32Array(WHEN.buffer);

export class Handle implements Runnable {
  /** @internal */ _cb: ((...args: any[]) => unknown) | null;
  /** @internal */ _args: unknown[];
  /** @internal */ _cancelled = false;

  constructor(cb: (...args: any[]) => unknown, args: unknown[]) {
    this._cb = cb;
    this._args = args;
  }

  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    this._cb = null;
    this._args = EMPTY;
  }

  cancelled(): boolean {
    return this._cancelled;
  }

  /** @internal */
  _run(pass?: PassFrame): void {
    const cb = this._cb;
    if (cb === null) return;
    if (pass !== undefined) pass._enterPassFrame();
    const a = this._args;
    switch (a.length) {
      case 0:
        cb();
        break;
      case 1:
        cb(a[0]);
        break;
      case 2:
        cb(a[0], a[1]);
        break;
      default:
        cb(...a);
    }
  }

  toString(): string {
    const name = this._cb ? this._cb.name || 'anonymous' : 'cancelled';
    return `<${this.constructor.name} ${name}>`;
  }
}

export class TimerHandle extends Handle {
  /** @internal the queue holding it (set and cleared by the queue), null once it has left */
  _queue: TimerOwner | null = null;
  /** @internal */ _whenLo: number;
  /** @internal */ _whenHi: number;

  // No sequence number: the timer queue keeps ties in scheduling order by position (see
  // timer-queue.ts), and every field is copied by each young-generation GC a queued timer lives
  // through. No loop either: only the queue needs telling of a cancel.
  constructor(when: number, cb: (...args: any[]) => unknown, args: unknown[]) {
    super(cb, args);
    WHEN[0] = when;
    this._whenLo = WHEN_HALVES[0]!;
    this._whenHi = WHEN_HALVES[1]!;
  }

  /** The deadline, in loop.time() milliseconds. */
  when(): number {
    WHEN_HALVES[0] = this._whenLo;
    WHEN_HALVES[1] = this._whenHi;
    return WHEN[0]!;
  }

  override cancel(): void {
    if (this._cancelled) return;
    super.cancel();
    if (this._queue !== null) this._queue.cancelled++;
  }
}


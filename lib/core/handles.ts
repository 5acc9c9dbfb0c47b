// The loop's scheduled callbacks: asyncio's Handle (callSoon, readers, writers) and TimerHandle
// (callLater, callAt).
/** Something the ready queue can run: a Handle, or a Future running its done callbacks. */
export interface Runnable {
  _run(): void;
}

const EMPTY: unknown[] = [];

/** The loop as a handle sees it: it counts cancelled timers to know when to purge them. */
export interface HandleOwner {
  /** @internal */ _timerCancelledCount: number;
}

export class Handle implements Runnable {
  /** @internal */ _cb: ((...args: any[]) => unknown) | null;
  /** @internal */ _args: unknown[];
  /** @internal */ _cancelled = false;
  /** @internal */ _loop: HandleOwner;

  constructor(cb: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner) {
    this._cb = cb;
    this._args = args;
    this._loop = loop;
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
  _run(): void {
    const cb = this._cb;
    if (cb === null) return;
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
  /** @internal */ _when: number;
  /** @internal in the loop's timer queue */ _queued = true;

  // No sequence number: the timer queue keeps ties in scheduling order by position (see
  // timer-queue.ts), and every field is copied by each young-generation GC a queued timer lives
  // through.
  constructor(when: number, cb: (...args: any[]) => unknown, args: unknown[], loop: HandleOwner) {
    super(cb, args, loop);
    this._when = when;
  }

  /** The deadline, in loop.time() milliseconds. */
  when(): number {
    return this._when;
  }

  override cancel(): void {
    if (this._cancelled) return;
    super.cancel();
    if (this._queued) this._loop._timerCancelledCount++;
  }
}


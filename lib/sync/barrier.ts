// asyncio.Barrier: `parties` tasks wait() until all have arrived, then all go on together.
//
// The state machine is asyncio's (filling → draining → filling, resetting, broken) on a
// Condition, so the outcomes of resets and aborts in every phase are the same. reset() and
// abort() act at once rather than after taking the condition's lock: nothing here holds that lock
// across a wait, so the waiters see the new state when they next check it, as in asyncio.
import type { Task } from '../core/task';
import type { AbstractEventLoop as EventLoop } from '../core/events';
import { BrokenBarrierError } from '../util/errors';
import { validateInteger } from '../util/validate';
import { Condition } from './condition';
import { bindLoop } from './waiter';

const FILLING = 0;
const DRAINING = 1;
const RESETTING = 2;
const BROKEN = 3;
const STATE_NAMES = ['filling', 'draining', 'resetting', 'broken'];

export class Barrier {
  private readonly _parties: number;
  private readonly _cond = new Condition();
  private _state = FILLING;
  /** @internal tasks inside wait() */ _count = 0;
  private _loop: EventLoop | null = null;

  constructor(parties: number) {
    this._parties = validateInteger(parties, 'parties', 1);
  }

  /** How many tasks must call wait() for the barrier to open. */
  get parties(): number {
    return this._parties;
  }

  /** How many tasks are waiting for the barrier to fill. */
  get nWaiting(): number {
    return this._state === FILLING ? this._count : 0;
  }

  get broken(): boolean {
    return this._state === BROKEN;
  }

  /**
   * Waits until `parties` tasks are waiting; resolves to this task's arrival index
   * (0 … parties-1). Fails with BrokenBarrierError if the barrier is reset or aborted meanwhile
   * or is broken.
   */
  wait(): Task<number> {
    const loop = (this._loop = bindLoop(this._loop, this));
    return loop.createTask(this._waitBody(loop), { eagerStart: true });
  }

  /** Back to the empty state; tasks waiting now fail with BrokenBarrierError. */
  reset(): void {
    if (this._count > 0) {
      if (this._state !== RESETTING) this._state = RESETTING;
    } else {
      this._state = FILLING;
    }
    this._cond._notify(Infinity);
  }

  /** Breaks the barrier: waiting and later wait() calls fail with BrokenBarrierError. */
  abort(): void {
    this._state = BROKEN;
    this._cond._notify(Infinity);
  }

  private *_waitBody(loop: EventLoop): Generator<unknown, number, unknown> {
    const cond = this._cond;
    yield* cond.acquire();
    try {
      // Block while the barrier drains or resets.
      yield* cond._waitForBody(loop, () => this._state !== DRAINING && this._state !== RESETTING);
      if (this._state === BROKEN) throw new BrokenBarrierError('Barrier aborted');
      const index = this._count++;
      try {
        if (index + 1 === this._parties) {
          this._state = DRAINING;
          cond._notify(Infinity);
        } else {
          yield* cond._waitForBody(loop, () => this._state !== FILLING);
          if (this._state === BROKEN || this._state === RESETTING) throw new BrokenBarrierError('Abort or reset of barrier');
        }
        return index;
      } finally {
        this._count--;
        // The last one out lets the tasks blocked by the draining (or resetting) in.
        if (this._count === 0) {
          if (this._state === RESETTING || this._state === DRAINING) this._state = FILLING;
          cond._notify(Infinity);
        }
      }
    } finally {
      cond.release();
    }
  }

  toString(): string {
    const extra = this._state === BROKEN ? '' : `, waiters:${this.nWaiting}/${this._parties}`;
    return `<Barrier [${STATE_NAMES[this._state]}${extra}]>`;
  }
}

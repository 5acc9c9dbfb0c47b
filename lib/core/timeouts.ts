// Deadlines: waitFor(aw, ms) and timeout(ms, body), asyncio's wait_for and timeout().
import { Future, registerFutureClass } from './future';
import { PENDING } from './events';
import { validateNumber } from '../util/validate';
import { getRunningLoop } from './running';
import { InvalidStateError, TimeoutError } from '../util/errors';
import { ensureFuture, type Task, type Coroutine } from './task';
import type { AbstractEventLoop as EventLoop } from './events';
import type { TimerHandle } from './handles';
import type { Awaitable, AwaitedResult } from './combinators';

function checkTimeout(ms: unknown): number | null {
  if (ms === null || ms === undefined || ms === Infinity) return null;
  return validateNumber(ms, 'timeout');
}

type TimeoutState = 'created' | 'entered' | 'expiring' | 'expired' | 'exiting' | 'exited';

/**
 * The future timeout() and waitFor() return. While it is pending, its deadline can be moved
 * (reschedule) as with asyncio's Timeout; expired() tells whether it fired.
 */
export class Timeout<T = unknown> extends Future<T> {
  /** @internal */ _deadline: number | null = null;
  /** @internal */ _timer: TimerHandle | null = null;
  /** @internal */ _tstate: TimeoutState = 'entered';
  /** @internal the task (or future) the deadline cancels */ _target: Future<unknown> | null = null;
  /** @internal cancelling() of the target before the deadline fired */ _cancellingBefore = 0;
  /** @internal */ _cancelRequested = false;

  constructor(loop?: EventLoop) {
    super(loop, TIMEOUT);
  }

  /** The deadline in loop.time() ms, or null for none. */
  when(): number | null {
    return this._deadline;
  }

  expired(): boolean {
    return this._tstate === 'expiring' || this._tstate === 'expired';
  }

  /** Moves the deadline to loop.time()-based `when` (null: no deadline). */
  reschedule(when: number | null): void {
    if (this._tstate !== 'entered') throw new InvalidStateError(`Timeout is not pending (${this._tstate})`);
    if (when !== null) validateNumber(when, 'when');
    this._deadline = when;
    if (this._timer !== null) {
      this._timer.cancel();
      this._timer = null;
    }
    if (when === null) return;
    const loop = this._loop;
    if (when <= loop.time()) this._timer = loop.callSoon(this._onDeadline) as TimerHandle;
    else this._timer = loop.callAt(when, this._onDeadline);
  }

  /** Cancels the target; the future ends cancelled once the target has finished its cleanup. */
  override cancel(msg?: string): boolean {
    if (this.done()) return false;
    const target = this._target;
    if (target !== null && !target.done()) {
      this._cancelRequested = true;
      return target.cancel(msg);
    }
    return super.cancel(msg);
  }

  /** @internal */
  readonly _onDeadline = (): void => {
    this._timer = null;
    const target = this._target;
    if (this._tstate !== 'entered' || target === null || target.done()) return;
    this._tstate = 'expiring';
    this._cancellingBefore = isTask(target) ? target.cancelling() : 0;
    target.cancel();
  };

  /** @internal the target settled: settle like it, or with TimeoutError when our deadline cancelled it */
  _targetDone(target: Future<T>): void {
    if (this._timer !== null) {
      this._timer.cancel();
      this._timer = null;
    }
    if (this._state !== PENDING) return;
    if (this._tstate === 'expiring') {
      this._tstate = 'expired';
      // asyncio.timeout: only a cancellation that our deadline caused becomes TimeoutError.
      const ours = isTask(target) ? target.uncancel() <= this._cancellingBefore : true;
      if (target.cancelled() && ours && !this._cancelRequested) {
        const err = new TimeoutError();
        (err as { cause?: unknown }).cause = target._makeCancelledError();
        this.setException(err);
        return;
      }
    } else {
      this._tstate = 'exited';
    }
    this._copyStateFrom(target);
  }
}

// Registered: made without the prototype lookup an unregistered subclass takes (future.ts).
const TIMEOUT = registerFutureClass(Timeout);

function isTask(f: Future<unknown>): f is Task<unknown> {
  return typeof (f as Task<unknown>).cancelling === 'function';
}

function startTimeout<T>(loop: EventLoop, ms: number | null, target: Future<T>, t: Timeout<T>): Timeout<T> {
  t._target = target as Future<unknown>;
  target._addCallbackInternal((f: Future<T>) => t._targetDone(f));
  if (ms !== null) t.reschedule(loop.time() + ms);
  return t;
}

/**
 * Waits for `aw` at most `ms` milliseconds. On time-out cancels it, waits until it has
 * finished (its cleanup ran) and fails with TimeoutError. If `aw` suppresses the cancellation
 * and returns a value, that value is the result (asyncio 3.12).
 */
export function waitFor<A extends Awaitable>(aw: A, ms: number | null | undefined): Timeout<AwaitedResult<A>>;
export function waitFor<T>(aw: unknown, ms: number | null | undefined): Timeout<T> {
  const timeout = checkTimeout(ms);
  const loop = getRunningLoop();
  const inner = ensureFuture<T>(aw, loop);
  const t = new Timeout<T>(loop);
  if (inner.done()) {
    t._tstate = 'exited';
    t._copyStateFrom(inner);
    return t;
  }
  if (timeout !== null && timeout <= 0) {
    // Already expired: cancel now, before a coroutine wrapped in a new task takes its first
    // step (a task cancelled before it starts never runs its coroutine, as in asyncio).
    startTimeout(loop, null, inner, t);
    t._onDeadline();
    return t;
  }
  return startTimeout(loop, timeout, inner, t);
}

/**
 * Runs `body` (a generator function or async function, called with the Timeout; or a
 * coroutine) as a task under a deadline of `ms` milliseconds and resolves to its result. At the
 * deadline the body is cancelled; once it has finished, the Timeout fails with TimeoutError —
 * unless the body was also cancelled from elsewhere (then the cancellation propagates) or it
 * suppressed the cancellation (then its result stands). Nested timeouts: only the one whose
 * deadline passed throws TimeoutError.
 */
export function timeout<T = unknown>(ms: number | null | undefined, body: Coroutine<T> | ((t: Timeout<T>) => unknown)): Timeout<T> {
  const delay = checkTimeout(ms);
  const loop = getRunningLoop();
  const t = new Timeout<T>(loop);
  const coro = typeof body === 'function' ? () => (body as (t: Timeout<T>) => unknown)(t) : body;
  const task = loop.createTask(coro as Coroutine<T>);
  return startTimeout(loop, delay, task, t);
}

/** As timeout(), with an absolute deadline in loop.time() ms. */
export function timeoutAt<T = unknown>(when: number | null, body: Coroutine<T> | ((t: Timeout<T>) => unknown)): Timeout<T> {
  const loop = getRunningLoop();
  const t = timeout<T>(null, body);
  if (when !== null) t.reschedule(when);
  void loop;
  return t;
}


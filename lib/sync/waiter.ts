// The future a primitive hands to a task that has to wait, and the FIFO queue of them.
//
// asyncio's primitives are coroutines: a woken waiter takes the lock (or the item) only when its
// task resumes, so a cancellation that lands between the wake-up and the resumption makes the
// coroutine raise CancelledError and leave the lock to the next one. evloop's acquire()/get()
// return a Future instead (it can be awaited, `yield*`-ed, gathered or given to waitFor), so the
// primitive hands over at wake-up time — `setResult(true)` means "the lock is yours" — and a
// Waiter can be *revoked*: cancel() on a waiter that has been granted but whose done callbacks
// have not run yet (no task, combinator or callback has seen the result) gives the grant back to
// the primitive and ends the waiter cancelled. A task cancelled in that window therefore sees
// CancelledError at its await/yield* exactly as asyncio's coroutine would, and the lock, permit
// or item goes to the next waiter: nothing stays held, no wake-up is lost.
import { Future, registerFutureClass } from '../core/future';
import { PENDING, FINISHED } from '../core/events';
import { getRunningLoop as _runningLoop } from '../core/running';
import { EventLoopError } from '../util/errors';
import type { AbstractEventLoop as EventLoop } from '../core/events';

/** A primitive that can take back what it granted to a waiter (false: it can no longer). */
export interface Granter<T> {
  _revoke(waiter: Waiter<T>, value: T): boolean;
}

/** For waiters that are only told something (an event was set): taking it back costs nothing. */
export const NOTHING_TO_GIVE_BACK: Granter<any> = { _revoke: () => true };

export class Waiter<T> extends Future<T> {
  /** @internal */ _prev: Waiter<T> | null = null;
  /** @internal */ _next: Waiter<T> | null = null;
  /**
   * @internal Pending: the queue it waits in (null once out of it). Done: who granted its
   * result, while the grant can still be revoked. One field for both (a waiter is granted only
   * once out of its queue): every field costs each waiter a store and each `await` of one a
   * longer search for `constructor` (see FutureMethods).
   */
  _owner: WaiterQueue<T> | Granter<T> | null = null;
  /** @internal what it brings (a putter's item) */ _payload: unknown = undefined;

  constructor(loop?: EventLoop) {
    super(loop, WAITER);
  }

  /** Resolves the waiter, out of its queue, with `value` on behalf of `granter`, which may take it back (see header). */
  _grant(granter: Granter<T>, value: T): void {
    this.setResult(value);
    this._owner = granter;
  }

  override result(): T {
    // Someone looked at the result directly: it is theirs, no revocation any more (pending,
    // the field is its queue, and it stays).
    if (this._state !== PENDING) this._owner = null;
    return super.result();
  }

  override cancel(msg?: string): boolean {
    if (this._state === PENDING) {
      const queue = this._owner as WaiterQueue<T> | null;
      if (queue !== null) queue.unlink(this);
      return super.cancel(msg);
    }
    const granter = this._owner as Granter<T> | null;
    // _callbacks, done: they are queued on the loop and have not run, so no awaiting
    // task, combinator or callback has seen the result yet.
    if (granter === null || this._state !== FINISHED || this._failed || this._callbacks === null) return false;
    // Settled by hand while still queued: nobody granted it anything.
    if (granter instanceof WaiterQueue) return false;
    this._owner = null;
    let revoked: boolean;
    try {
      revoked = granter._revoke(this, this._result as T);
    } catch {
      revoked = false; // a revocation that cannot be done cleanly is not done: the grant stands
    }
    if (!revoked) return false;
    this._state = PENDING;
    this._result = undefined;
    // Future.cancel would queue the callbacks a second time: they are queued already and read
    // the state when they run.
    const scheduled = this._callbacks;
    this._callbacks = null;
    super.cancel(msg);
    this._callbacks = scheduled;
    return true;
  }
}

const WAITER = registerFutureClass(Waiter);

// V8 sizes a class's objects by the first seven it makes (in-object slack tracking): at the
// seventh it keeps in the object as many fields as the instances it can still reach have set.
// Made one at a time with a full GC in between (bench/pool.js makes one waiter per pool and
// collects between its contenders), none is reachable then, the seventh has no field set yet, and
// every waiter after it keeps its fields out of the object, in a properties array grown as they
// are set (in bench/pool.js's 16-worker row: 849 bytes per acquire + release instead of 561).
// Made here, alive together, they settle the layout before anything can collect them.
const SETTLE_LAYOUT = 8;
{
  const held: Array<Waiter<unknown>> = [];
  for (let i = 0; i < SETTLE_LAYOUT; i++) held.push(new Waiter<unknown>(null as unknown as EventLoop));
}

/** The two ends of a WaiterQueue (see ENDS_USES). */
interface Ends<T> {
  head: Waiter<T> | null;
  tail: Waiter<T> | null;
}

// A queue lives long (a pool's, a lock's) and its waiters are young: storing a waiter into the
// queue itself takes a write barrier that records the slot for the next young-generation GC, at
// every push (the tail) and every shift (the head) — ~50 instructions each (callgrind, 16 workers
// awaiting a pool's acquire: 2 of the 5 barriers an acquire + release took). The ends live in a
// small object of their own instead, replaced every ENDS_USES pushes: far fewer than a
// young-generation GC sees, so it is almost always young itself and stores into it need no barrier.
const ENDS_USES = 32;

/** FIFO of waiters linked through the waiters themselves: O(1) push, shift and unlink on cancel. */
export class WaiterQueue<T> {
  private _ends: Ends<T> = { head: null, tail: null };
  private _pushes = 0;
  length = 0;

  get head(): Waiter<T> | null {
    return this._ends.head;
  }

  push(w: Waiter<T>): void {
    let ends = this._ends;
    if (++this._pushes === ENDS_USES) {
      this._pushes = 0;
      ends = this._ends = { head: ends.head, tail: ends.tail };
    }
    w._owner = this;
    const tail = ends.tail;
    w._prev = tail;
    w._next = null;
    if (tail === null) ends.head = w;
    else tail._next = w;
    ends.tail = w;
    this.length++;
  }

  /**
   * Removes and returns the first waiter that can still be served (all queued waiters are
   * pending; one whose loop was closed meanwhile can never run again and is dropped).
   */
  shift(): Waiter<T> | null {
    for (let w = this._ends.head; w !== null; w = this._ends.head) {
      this.removeHead(w);
      if (!w._loop.isClosed()) return w;
    }
    return null;
  }

  /**
   * Removes `w`, the head. By position, not by its `_owner`: a waiter someone settled by hand
   * while queued may have dropped that (result() and cancel() read it as a granter then).
   */
  removeHead(w: Waiter<T>): void {
    const ends = this._ends;
    const next = w._next;
    ends.head = next;
    if (next === null) ends.tail = null;
    else {
      next._prev = null;
      w._next = null;
    }
    w._owner = null;
    this.length--;
  }

  unlink(w: Waiter<T>): void {
    if (w._owner !== this) return;
    const ends = this._ends;
    const prev = w._prev;
    const next = w._next;
    if (prev === null) ends.head = next;
    else prev._next = next;
    if (next === null) ends.tail = prev;
    else next._prev = prev;
    w._prev = w._next = null;
    w._owner = null;
    this.length--;
  }
}

/**
 * The loop a primitive's waiters belong to: bound on first wait (asyncio's _LoopBoundMixin). A
 * primitive may outlive a closed loop and serve the next one; using it from two live loops is
 * an error, as in asyncio.
 */
export function bindLoop(bound: EventLoop | null, owner: object): EventLoop {
  const loop = _runningLoop();
  if (bound === null || bound === loop || bound.isClosed()) return loop;
  throw new EventLoopError(`${owner.constructor.name} is bound to a different event loop`, 'ERR_DIFFERENT_LOOP');
}

// Done futures carry no state a holder could change (cancel() is false, callbacks run at once),
// so the fast paths of acquire()/put() share one per loop instead of allocating one per call.
let doneLoop: EventLoop | null = null;
let doneTrue: Future<true> | null = null;
let doneVoid: Future<void> | null = null;

function refresh(loop: EventLoop): void {
  doneLoop = loop;
  doneTrue = new Future<true>(loop);
  doneTrue.setResult(true);
  doneVoid = new Future<void>(loop);
  doneVoid.setResult(undefined);
}

/** A done Future<true> of the running loop. */
export function resolvedTrue(): Future<true> {
  const loop = _runningLoop();
  if (loop !== doneLoop) refresh(loop);
  return doneTrue!;
}

/** A done Future<void> of the running loop. */
export function resolvedVoid(): Future<void> {
  const loop = _runningLoop();
  if (loop !== doneLoop) refresh(loop);
  return doneVoid!;
}

/** A done future of `loop` with `value`. */
export function resolvedOn<T>(loop: EventLoop, value: T): Future<T> {
  const f = new Future<T>(loop);
  f.setResult(value);
  return f;
}

/** A future of the running loop failed with `err`. */
export function failed<T>(err: Error): Future<T> {
  const f = new Future<T>(_runningLoop());
  f.setException(err);
  return f;
}

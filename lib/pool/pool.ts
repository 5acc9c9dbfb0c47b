// A connection pool: an idle stack plus an in-use map (gsocketpool's model) on top of PoolBase's
// FIFO wait queue. `size` counts idle + in use + being created + being validated, and no path
// ever lets it pass `max`.
import type { Future } from '../core/future';
import { ensureFuture, isGenerator, isThenable, Task, type TaskOptions } from '../core/task';
import { Future as FutureClass, WAKE_WAITING_TASKS } from '../core/future';
import { CancelledError } from '../util/errors';
import type { EventLoop } from '../core/loop';
import { NOTHING, PoolBase, poolClosedError, type AcquireOptions } from './pool-base';
import { codedError, invalidArgType, validateFunction, validateInteger, validateMs, validateObject } from '../util/validate';

export { type AcquireOptions, type PoolEvent } from './pool-base';

type Awaitable<V> = V | PromiseLike<V> | Generator<unknown, V, unknown>;

export interface PoolOptions<T> {
  /** Opens a connection: returns it, or a promise / Future / generator coroutine of it. */
  create: () => Awaitable<T>;
  /** Closes a connection; may return a promise (its failure is logged, never thrown). */
  destroy?: (conn: T) => unknown;
  /** Checked on an idle connection before it is handed out; false (or a throw) destroys it. */
  validate?: (conn: T) => boolean | PromiseLike<boolean>;
  max: number;
  /** Connections opened at once and kept open (default 0). */
  min?: number;
  /** Default `timeout` of acquire, in ms (default: wait forever). */
  acquireTimeout?: number;
  /** How often a failing create is retried, with exponential back-off (default 0). */
  retries?: number;
  /** First back-off delay in ms (default 20); it doubles per retry up to maxRetryDelay (default 1000). */
  retryDelay?: number;
  maxRetryDelay?: number;
  /** Idle connections older than this (ms) are closed, never going below `min`. */
  idleTimeout?: number;
  /** Connections older than this (ms) are closed when idle or when released. */
  maxLifetime?: number;
  /** An evloop Logger or a pino logger. */
  logger?: unknown;
}

export interface PoolStats {
  size: number;
  idle: number;
  inUse: number;
  pending: number;
  creating: number;
  validating: number;
  min: number;
  max: number;
  closed: boolean;
  created: number;
  destroyed: number;
  acquired: number;
  createErrors: number;
  timeouts: number;
}

/** @internal */
export interface Entry<T> {
  readonly conn: T;
  readonly createdAt: number;
  idleSince: number;
  /** Bumped at each hand-out, so that `use` gives back only the lease it holds. */
  lease: number;
  /** Handed out and not yet given back. */
  out: boolean;
}

const now = (): number => performance.now();

export class Pool<T> extends PoolBase<T> {
  readonly max: number;
  readonly min: number;
  private readonly createFn: () => Awaitable<T>;
  private readonly destroyFn: ((conn: T) => unknown) | undefined;
  private readonly validateFn: ((conn: T) => boolean | PromiseLike<boolean>) | undefined;
  private readonly retries: number;
  private readonly retryDelay: number;
  private readonly maxRetryDelay: number;
  private readonly idleTimeout: number;
  private readonly maxLifetime: number;

  /** Most recently released on top, so the oldest idle ones sit at the bottom for the reaper. */
  private idleList: Entry<T>[] = [];
  /**
   * Every connection this pool owns (idle, out, being validated), so that a hand-out and a
   * release flip a flag instead of adding to and deleting from a map.
   */
  private readonly owned = new Map<T, Entry<T>>();
  /**
   * The entry handed out last: a one-worker loop, and use() on an idle connection, give back or
   * look up the connection just taken, and find it here without hashing it into `owned`.
   */
  private lastLent: Entry<T> | null = null;
  /** Whether the reaper ever has work (an idle timeout or a lifetime): releases skip it otherwise. */
  private readonly reaps: boolean;
  private out = 0;
  private creating = 0;
  private validating = 0;
  private dispatching = false;
  private reaper: { cancel(): void } | null = null;
  private refill: { cancel(): void } | null = null;
  private refillDelay: number;
  private closeWaiters: Array<Future<void>> = [];
  // Plain fields, not an object of counters: the hand-out's count is one store, not a load and a store.
  private createdCount = 0;
  private destroyedCount = 0;
  private acquiredCount = 0;
  private createErrorCount = 0;

  constructor(options: PoolOptions<T>) {
    validateObject(options, 'options');
    super(options);
    validateFunction(options.create, 'options.create');
    if (options.destroy !== undefined) validateFunction(options.destroy, 'options.destroy');
    if (options.validate !== undefined) validateFunction(options.validate, 'options.validate');
    this.max = validateInteger(options.max, 'options.max', 1);
    this.min = options.min === undefined ? 0 : validateInteger(options.min, 'options.min', 0, this.max);
    this.retries = options.retries === undefined ? 0 : validateInteger(options.retries, 'options.retries', 0);
    this.retryDelay = options.retryDelay === undefined ? 20 : validateMs(options.retryDelay, 'options.retryDelay');
    this.maxRetryDelay = options.maxRetryDelay === undefined ? 1000 : validateMs(options.maxRetryDelay, 'options.maxRetryDelay');
    this.idleTimeout = options.idleTimeout === undefined ? Infinity : positiveMs(options.idleTimeout, 'options.idleTimeout');
    this.maxLifetime = options.maxLifetime === undefined ? Infinity : positiveMs(options.maxLifetime, 'options.maxLifetime');
    this.createFn = options.create;
    this.destroyFn = options.destroy;
    this.validateFn = options.validate;
    this.refillDelay = this.retryDelay;
    this.reaps = this.idleTimeout !== Infinity || this.maxLifetime !== Infinity;
    // `min` needs a loop to open connections on; without a running one it waits for the first use.
    if (this.min > 0) this.usableLoop();
  }

  /** Idle + in use + being created + being validated; never above `max`. */
  get size(): number {
    return this.idleList.length + this.out + this.creating + this.validating;
  }

  get idle(): number {
    return this.idleList.length;
  }

  get inUse(): number {
    return this.out;
  }

  stats(): PoolStats {
    return {
      size: this.size,
      idle: this.idleList.length,
      inUse: this.out,
      pending: this.waiting,
      creating: this.creating,
      validating: this.validating,
      min: this.min,
      max: this.max,
      closed: this.closed,
      created: this.createdCount,
      destroyed: this.destroyedCount,
      acquired: this.acquiredCount,
      createErrors: this.createErrorCount,
      timeouts: this.timeouts,
    };
  }

  /** Give a connection back. Releasing one that is not out (twice, or a foreign object) throws. */
  release(conn: T): void {
    const last = this.lastLent;
    const entry = last !== null && last.conn === conn ? last : this.owned.get(conn);
    if (entry === undefined || !entry.out) throw notAcquired('release');
    this.giveBack(entry);
  }

  protected override takeBack(conn: T): boolean {
    const entry = this.owned.get(conn);
    if (entry === undefined || !entry.out) return false;
    // Handed to a waiter that was cancelled before it saw it: it never was acquired.
    this.acquiredCount--;
    this.giveBack(entry);
    return true;
  }

  private giveBack(entry: Entry<T>): void {
    const conn = entry.conn;
    entry.out = false;
    this.out--;
    if (this.hasListeners()) this.emit('release', conn);
    if (this.closed) {
      this.destroyEntry(entry, 'closed');
      this.checkDrained();
    } else if (this.maxLifetime !== Infinity && now() - entry.createdAt >= this.maxLifetime) {
      this.destroyEntry(entry, 'maxLifetime');
      this.ensureMin();
      this.dispatch();
    } else {
      this.offer(entry);
    }
  }

  /** Close a connection the caller holds (or an idle one) instead of giving it back. */
  destroy(conn: T): void {
    let entry = this.owned.get(conn);
    if (entry !== undefined && entry.out) {
      entry.out = false;
      this.out--;
    } else {
      const i = this.idleList.findIndex((e) => e.conn === conn);
      if (i < 0) throw notAcquired('destroy');
      entry = this.idleList[i]!;
      this.idleList.splice(i, 1);
    }
    this.destroyEntry(entry, 'destroyed');
    if (this.closed) {
      this.checkDrained();
    } else {
      this.ensureMin();
      this.dispatch();
    }
  }

  /** True while `conn` is handed out by this pool and not yet released or destroyed. */
  isAcquired(conn: T): boolean {
    return this.owned.get(conn)?.out === true;
  }

  /**
   * Acquire, run `fn(conn)` (a plain, async or generator function), release in `finally`.
   * Runs as a Task, so it can be awaited, `yield*`-ed and cancelled; resolves to fn's result.
   */
  use<R>(fn: (conn: T) => Awaitable<R>, options?: AcquireOptions): Task<R> {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
    const loop = this.bindLoop();
    // Eager: an idle connection and a fn that finishes without waiting cost no loop pass at all.
    const task = new Task<R>(useBody<T, R>(this, fn, options, loop), EAGER_START, loop);
    task._flags |= WAKE_WAITING_TASKS;
    return task;
  }

  /** @internal use()'s acquire without a future: an idle connection now, or NOTHING. */
  _takeIdle(): T | typeof NOTHING {
    return this.tryTake();
  }

  /** @internal The entry of a connection handed out (use() keeps it: one map lookup per call). */
  _entryOf(conn: T): Entry<T> {
    const last = this.lastLent;
    return last !== null && last.conn === conn ? last : this.owned.get(conn)!;
  }

  /**
   * @internal Release the entry if it is still out on `lease` (fn may have destroyed it, or
   * released it, after which it may be out again for someone else). A destroyed entry is never
   * handed out again, so its flag alone says it is gone.
   */
  _endLease(entry: Entry<T>, lease: number): void {
    if (entry.out && entry.lease === lease) this.giveBack(entry);
  }

  /**
   * Stop handing out: waiting and later acquires fail with ERR_POOL_CLOSED, idle connections are
   * destroyed now, in-use ones as they are released, ones being created as they arrive.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reaper?.cancel();
    this.reaper = null;
    this.refill?.cancel();
    this.refill = null;
    this.failAll(poolClosedError);
    const idle = this.idleList;
    this.idleList = [];
    for (const entry of idle) this.destroyEntry(entry, 'closed');
    this.emit('close');
    this.checkDrained();
  }

  /** Resolves once the pool is closed and every connection it owned has been destroyed. */
  waitClosed(): Future<void> {
    const future = this.bindLoop().createFuture<void>();
    if (this.closed && this.size === 0) future.setResult(undefined);
    else this.closeWaiters.push(future);
    return future;
  }

  protected override onLoopBound(): void {
    this.ensureMin();
    this.scheduleReaper();
  }

  protected override takeNow(): T | typeof NOTHING {
    for (;;) {
      const entry = this.idleList.pop();
      if (entry === undefined) {
        // Nothing idle: a caller that could create at once still has to wait for the create.
        return NOTHING;
      }
      const verdict = this.checkSync(entry);
      if (verdict === true) return this.lend(entry);
      if (verdict === 'pending') return NOTHING;
    }
  }

  protected override dispatch(): void {
    if (this.dispatching || this.closed) return;
    // At max with nothing idle (every acquire that waits behind a busy pool): nothing to hand
    // out or create, and min <= max is met.
    if (this.idleList.length === 0 && this.out + this.creating + this.validating >= this.max) return;
    this.dispatching = true;
    try {
      while (this.hasWaiter()) {
        // Connections on their way (being created or validated) are each promised to a waiter.
        if (this.waiting <= this.creating + this.validating) break;
        const entry = this.idleList.pop();
        if (entry !== undefined) {
          const verdict = this.checkSync(entry);
          if (verdict === true) this.serve(entry);
          continue;
        }
        if (this.size >= this.max) break;
        this.startCreate();
      }
    } finally {
      this.dispatching = false;
    }
    if (this.size < this.min) this.ensureMin();
  }

  /** A free connection goes to the oldest waiter, else onto the idle stack. */
  private offer(entry: Entry<T>): void {
    if (this.closed) {
      this.destroyEntry(entry, 'closed');
      this.checkDrained();
      return;
    }
    const waiter = this.firstWaiter();
    if (waiter !== null) {
      this.lend(entry);
      this.grant(waiter, entry.conn);
      return;
    }
    // The clock is read only when an idle timeout will look at it (this is the release hot path).
    if (this.idleTimeout !== Infinity) entry.idleSince = now();
    this.idleList.push(entry);
    if (this.reaps && this.reaper === null) this.scheduleReaper();
  }

  private lend(entry: Entry<T>): T {
    this.lastLent = entry;
    entry.lease++;
    entry.out = true;
    this.out++;
    this.acquiredCount++;
    return entry.conn;
  }

  private serve(entry: Entry<T>): void {
    this.lend(entry);
    if (!this.serveFirst(entry.conn)) {
      // Unreachable while callers check hasWaiter first; keep the books straight regardless.
      entry.out = false;
      this.out--;
      this.idleList.push(entry);
    }
  }

  /**
   * Runs `validate` on an idle entry taken off the stack. true: hand it out. false: it was
   * destroyed. 'pending': an async verdict will offer or destroy it later (counted in `size`).
   */
  private checkSync(entry: Entry<T>): boolean | 'pending' {
    if (this.maxLifetime !== Infinity && now() - entry.createdAt >= this.maxLifetime) {
      this.destroyEntry(entry, 'maxLifetime');
      return false;
    }
    const validate = this.validateFn;
    if (validate === undefined) return true;
    let verdict: boolean | PromiseLike<boolean>;
    try {
      verdict = validate(entry.conn);
    } catch (err) {
      this.logger.debug('pool validate threw', err);
      this.destroyEntry(entry, 'invalid');
      return false;
    }
    if (isThenable<boolean>(verdict)) {
      this.validating++;
      verdict.then(
        (ok) => this.afterValidate(entry, ok === true),
        (err: unknown) => {
          this.logger.debug('pool validate failed', err);
          this.afterValidate(entry, false);
        },
      );
      return 'pending';
    }
    if (verdict === true) return true;
    this.destroyEntry(entry, 'invalid');
    return false;
  }

  private afterValidate(entry: Entry<T>, ok: boolean): void {
    this.validating--;
    if (ok) {
      this.offer(entry);
    } else {
      this.destroyEntry(entry, 'invalid');
      this.checkDrained();
    }
    this.ensureMin();
    this.dispatch();
  }

  private startCreate(): void {
    this.creating++;
    this.attemptCreate(0);
  }

  private attemptCreate(attempt: number): void {
    if (this.closed) {
      this.creating--;
      this.checkDrained();
      return;
    }
    let result: Awaitable<T>;
    try {
      result = this.createFn();
    } catch (err) {
      this.createFailed(err, attempt);
      return;
    }
    if (isGenerator<T>(result)) {
      const loop = this.usableLoop();
      if (loop === null) {
        this.createFailed(codedError(Error, 'ERR_NO_RUNNING_LOOP', 'create returned a coroutine but no loop runs'), attempt);
        return;
      }
      result = loop.createTask(result) as unknown as PromiseLike<T>;
    }
    if (isThenable<T>(result)) {
      result.then(
        (conn) => this.created(conn),
        (err: unknown) => this.createFailed(err, attempt),
      );
    } else {
      this.created(result);
    }
  }

  private created(conn: T): void {
    this.creating--;
    this.createdCount++;
    this.refillDelay = this.retryDelay;
    const t = now();
    const entry: Entry<T> = { conn, createdAt: t, idleSince: t, lease: 0, out: false };
    this.owned.set(conn, entry);
    this.emit('create', conn);
    this.offer(entry);
    // A create covers one waiter; if that one left meanwhile the connection went idle, and
    // anyone still waiting beyond it gets served by the next round.
    this.dispatch();
  }

  private createFailed(err: unknown, attempt: number): void {
    this.createErrorCount++;
    this.emit('create-error', err, attempt);
    if (attempt < this.retries && !this.closed) {
      const delay = Math.min(this.retryDelay * 2 ** attempt, this.maxRetryDelay);
      this.logger.warn('pool create failed, retrying', `attempt ${attempt + 1} of ${this.retries + 1}, in ${delay} ms: ${errText(err)}`);
      const loop = this.usableLoop();
      if (loop !== null) {
        loop.callLater(delay, () => this.attemptCreate(attempt + 1));
        return;
      }
    }
    this.creating--;
    this.logger.warn('pool create failed', errText(err));
    if (this.closed) {
      this.checkDrained();
      return;
    }
    // The error goes to the waiter this create was for; without one (a create for `min`),
    // refilling backs off rather than spinning on a create that keeps failing.
    if (!this.failFirst(err)) this.scheduleRefill();
    else this.dispatch();
  }

  private ensureMin(): void {
    if (this.closed || this.size >= this.min || this.refill !== null) return;
    if (this.usableLoop() === null) return;
    while (this.size < this.min) this.startCreate();
  }

  private scheduleRefill(): void {
    if (this.refill !== null || this.closed || this.size >= this.min) return;
    const loop = this.usableLoop();
    if (loop === null) return;
    const delay = this.refillDelay;
    this.refillDelay = Math.min(this.refillDelay * 2, this.maxRetryDelay);
    this.refill = loop.callLater(delay, () => {
      this.refill = null;
      this.ensureMin();
    });
  }

  private destroyEntry(entry: Entry<T>, reason: string): void {
    if (this.owned.get(entry.conn) === entry) this.owned.delete(entry.conn);
    // A create may return the same object again: its new entry must not be shadowed by this one.
    if (this.lastLent === entry) this.lastLent = null;
    this.destroyedCount++;
    this.emit('destroy', entry.conn, reason);
    const destroy = this.destroyFn;
    if (destroy === undefined) return;
    try {
      const r = destroy(entry.conn);
      if (isThenable(r)) r.then(undefined, (err: unknown) => this.logger.warn('pool destroy failed', errText(err), reason));
    } catch (err) {
      this.logger.warn('pool destroy failed', errText(err), reason);
    }
  }

  private scheduleReaper(): void {
    if (this.reaper !== null || this.closed || this.idleList.length === 0) return;
    if (this.idleTimeout === Infinity && this.maxLifetime === Infinity) return;
    let deadline = Infinity;
    if (this.idleTimeout !== Infinity && this.size > this.min) deadline = this.idleList[0]!.idleSince + this.idleTimeout;
    if (this.maxLifetime !== Infinity) {
      for (const entry of this.idleList) deadline = Math.min(deadline, entry.createdAt + this.maxLifetime);
    }
    if (deadline === Infinity) return;
    const loop = this.usableLoop();
    if (loop === null) return;
    // One ms of slack: the loop's clock and performance.now() need not agree to the microsecond.
    this.reaper = loop.callLater(Math.max(0, deadline - now()) + 1, () => this.reap());
  }

  private reap(): void {
    this.reaper = null;
    if (this.closed) return;
    const t = now();
    const keep: Entry<T>[] = [];
    let removed = 0;
    // Bottom of the stack first: those have been idle longest.
    for (const entry of this.idleList) {
      const expired = t - entry.createdAt >= this.maxLifetime;
      const stale = t - entry.idleSince >= this.idleTimeout && this.size - removed > this.min;
      if (expired || stale) {
        removed++;
        this.destroyEntry(entry, expired ? 'maxLifetime' : 'idleTimeout');
      } else {
        keep.push(entry);
      }
    }
    this.idleList = keep;
    this.ensureMin();
    this.scheduleReaper();
  }

  private checkDrained(): void {
    if (!this.closed || this.size !== 0 || this.closeWaiters.length === 0) return;
    const waiters = this.closeWaiters;
    this.closeWaiters = [];
    for (const future of waiters) if (!future.done()) future.setResult(undefined);
  }
}

// Laid out at load, several alive together, for the reason lib/sync/waiter.ts gives: a process
// that makes one pool at a time with a full GC in between (bench/pool.js does, per contender)
// otherwise leaves every pool's ~40 fields out of the object, one more load at each access.
{
  const held: Array<Pool<null>> = [];
  for (let i = 0; i < 8; i++) held.push(new Pool<null>({ create: () => null, max: 1 }));
}

function* useBody<T, R>(pool: Pool<T>, fn: (conn: T) => Awaitable<R>, options: AcquireOptions | undefined, loop: EventLoop): Generator<unknown, R, unknown> {
  let conn = options === undefined ? pool._takeIdle() : NOTHING;
  if (conn === NOTHING) {
    const acquiring = pool.acquire(options);
    try {
      if (!acquiring.done()) yield acquiring;
      conn = acquiring.result();
    } catch (err) {
      // A grant nobody saw is revoked by the Waiter itself; this covers any other way a
      // connection could reach a future whose task is being cancelled: give it back.
      if (acquiring.done() && !acquiring.cancelled() && acquiring.exception() == null) pool.release(acquiring.result());
      throw err;
    }
  }
  const entry = pool._entryOf(conn);
  const lease = entry.lease;
  let running: PromiseLike<R> | null = null;
  let wrapper: FutureClass<R> | null = null;
  try {
    const r = fn(conn);
    // A caller that yield*s the task follows the future the task is suspended on (the Task's
    // own record of it), so fn's generator is delegated to natively.
    if (isGenerator<R>(r)) return yield* r;
    if (isThenable<R>(r)) {
      running = r;
      wrapper = r instanceof FutureClass ? ensureFuture<R>(r, loop) : settledInReaction<R>(r, loop);
      return (yield wrapper) as R;
    }
    return r as R;
  } finally {
    // Cancelled while an async fn is still at work: a promise cannot be stopped, so the
    // connection stays out until it settles rather than going to someone else mid-use.
    if (running !== null && wrapper !== null && wrapper.cancelled()) {
      const giveBack = (): void => pool._endLease(entry, lease);
      running.then(giveBack, giveBack);
    } else {
      pool._endLease(entry, lease);
    }
  }
}

/**
 * What use()'s task waits on while an async fn runs. When fn's promise settles, the task resumes
 * in that promise reaction, releases and ends — as an async-function task ends in its promise's
 * reaction — instead of one loop pass later (ensureFuture's wrapper wakes it through the loop).
 * Fulfilled, the future's callbacks run at once without a loop entry (see there); failed or
 * cancelled, it is settled as usual (its callbacks queued on the loop) and they are run at once,
 * the queued entry then finding nothing to run. A plain Future, not a subclass overriding
 * how callbacks are scheduled: such an override, once seen, slowed every future's settlement in
 * the process (measured: 3.8k -> 14k instructions per acquire/release).
 */
function settledInReaction<R>(running: PromiseLike<R>, loop: EventLoop): FutureClass<R> {
  const f = new FutureClass<R>(loop);
  running.then(
    (v) => {
      if (f.done() || loop.isClosed()) return;
      // Without a loop entry: one kept in the ready queue would hold the future (and what it
      // holds) until the loop runs, which a caller looping over `await pool.use(fn)` on an idle
      // connection may not let it do for long.
      f._setResultNow(v);
    },
    (e: unknown) => {
      if (f.done() || loop.isClosed()) return;
      if (e instanceof CancelledError) {
        f._cancelledExc = e;
        f.cancel(e.message);
      } else {
        f._setException(e);
      }
      f._run();
    },
  );
  return f;
}

/**
 * use()'s Task: a generator that `yield*`s it waits on it as on any task, but not for the loop to
 * run the task's done callbacks one loop pass after it ended: when a step that a future woke ends
 * the task, the tasks waiting on it are woken at once (WAKE_WAITING_TASKS), in the pass in which
 * it ended, as if fn had run in the caller's coroutine; so is a lone `await` of it (its native
 * promise settled then: the async caller resumes a microtask hop later, as after awaiting a done
 * future, where a loop pass would have cost ~600 instructions a call on an idle connection). Its
 * other done callbacks run from the loop as usual, after them. A plain Task, not a subclass: a subclass's instances, in the loop's ready
 * queue, would be one more layout for the loop to call `_run` on (callgrind: that call site went
 * megamorphic, ~300 instructions per request).
 */
const EAGER_START: TaskOptions = Object.freeze({ eagerStart: true });

function notAcquired(what: string): Error & { code: string } {
  return codedError(Error, 'ERR_POOL_NOT_ACQUIRED', `cannot ${what} a connection this pool has not handed out (released twice, or foreign)`);
}

function positiveMs(value: unknown, name: string): number {
  const ms = validateMs(value, name);
  if (ms === 0) throw codedError(RangeError, 'ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be > 0. Received 0`);
  return ms;
}

function errText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code === undefined ? err.message : `${String(code)}: ${err.message}`;
  }
  return String(err);
}


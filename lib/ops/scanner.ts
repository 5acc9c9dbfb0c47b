// The periodic scan: every `interval` ms, the tasks file's `due(now)` says what should run, and
// each item is enqueued unless a message with its key is already queued or running (the queue
// refuses it atomically, so a scan racing a manual start cannot run a key twice). It is an
// evloop task sleeping between scans, not a setInterval callback: a slow scan delays the next
// one instead of overlapping it. A `due` that throws, returns garbage or hangs is logged and
// called again next interval; nothing a tasks file does stops the scanner.
//
// Only the active scanner scans: each interval it asks its lease. The embedded queue has a
// single process, so its lease always answers "active" with token 0; the Redis lease (one active
// scanner among processes, with a fencing token that only grows) plugs in here.
import { getRunningLoop, type EventLoop } from '../core/loop';
import { currentTask, ensureFuture, type Task } from '../core/task';
import { sleep, wait } from '../core/combinators';
import { CancelledError, TimeoutError } from '../util/errors';
import type { Logger } from '../util/logger';
import { invalidArgValue, validateFunction, validateMs, validateObject } from '../util/validate';

export interface DueItem {
  task: string;
  key: string;
  params?: unknown;
}

/** `due(now, { signal })`: `now` is Date.now(); `signal` aborts when the scan times out. */
export type DueFunction = (now: number, ctx: { signal: AbortSignal }) => unknown;

export interface ScannerLease {
  /** Before each scan: the fencing token while this process holds the lease, null while another does. */
  acquire(): PromiseLike<number | null>;
  /** When the scanner stops. */
  release(): PromiseLike<void>;
  /** True for a lease nobody else can hold (the embedded one): the scanner is active from its start. */
  readonly alwaysHeld?: boolean;
  /**
   * After an acquire that answered null: milliseconds until the holder's lease runs out unless
   * renewed (null: unknown). A standby asks again then, not a whole interval later.
   */
  nextAsk?(): number | null;
}

export type ScannerState = 'active' | 'standby' | 'off';
export type SubmitOutcome = 'queued' | 'pending';

export interface ScannerOptions {
  due: DueFunction;
  /** Milliseconds between the starts of two scans (default 1000). */
  interval?: number;
  /** Milliseconds a `due` call may take (default: the interval). */
  timeout?: number;
  /** Enqueues one item under the lease's token; rejects for an item that cannot be enqueued. */
  submit: (item: DueItem, fence: number) => PromiseLike<SubmitOutcome>;
  lease?: ScannerLease;
  logger: Logger;
}

/** The embedded queue's lease: one process, always active, token 0. */
export function localLease(): ScannerLease {
  return {
    alwaysHeld: true,
    acquire: () => resolvedOn(getRunningLoop(), 0),
    release: () => resolvedOn(getRunningLoop(), undefined),
  };
}

function resolvedOn<T>(loop: EventLoop, v: T): PromiseLike<T> {
  const f = loop.createFuture<T>();
  f.setResult(v);
  return f;
}

export interface ScanReport {
  due: number;
  queued: number;
  pending: number;
  rejected: number;
}

export class Scanner {
  readonly interval: number;
  readonly timeout: number;
  private readonly due: DueFunction;
  private readonly submit: ScannerOptions['submit'];
  private readonly lease: ScannerLease;
  private readonly log: Logger;
  private task: Task<void> | null = null;
  private _state: ScannerState = 'off';
  private announced = false;
  private leaseFailing = false;
  /** Scans completed (for tests and the dashboard). */
  scans = 0;

  constructor(options: ScannerOptions) {
    validateObject(options, 'options');
    validateFunction(options.due, 'due');
    this.due = options.due;
    this.interval = options.interval === undefined ? 1000 : validateMs(options.interval, 'interval');
    if (this.interval === 0 || !Number.isFinite(this.interval)) throw invalidArgValue('interval', this.interval, 'must be a finite number of milliseconds > 0');
    this.timeout = options.timeout === undefined ? this.interval : validateMs(options.timeout, 'timeout');
    if (this.timeout === 0) throw invalidArgValue('timeout', this.timeout, 'must be > 0');
    this.submit = options.submit;
    this.lease = options.lease ?? localLease();
    this.log = options.logger;
  }

  get state(): ScannerState {
    return this._state;
  }

  start(): void {
    if (this.task !== null) return;
    this.task = getRunningLoop().createTask(() => this.loop(), { name: 'scanner' });
    // Until its first answer, a shared lease may be held elsewhere: stand by rather than claim.
    this._state = this.lease.alwaysHeld === true ? 'active' : 'standby';
  }

  /** Ends the scan loop (a scan in progress is cancelled) and releases the lease. */
  stop(): PromiseLike<void> {
    const loop = getRunningLoop();
    const task = this.task;
    if (task === null) return resolvedOn(loop, undefined);
    this.task = null;
    task.cancel('scanner stopped');
    return loop.createTask(async () => {
      await wait([task]);
      this._state = 'off';
      try {
        await ensureFuture(this.lease.release(), loop);
      } catch (err) {
        this.log.warn('scanner lease release failed', err);
      }
    });
  }

  private *loop(): Generator<unknown, void, any> {
    const loop = getRunningLoop();
    for (;;) {
      const started = loop.time();
      yield* this.scanOnce();
      this.scans++;
      let pause = Math.max(0, this.interval - (loop.time() - started));
      // Standing by: ask again the moment the holder's lease would run out, so the takeover
      // after a holder dies takes the rest of its lease, not that plus up to an interval.
      const freeIn = this._state === 'standby' && !this.leaseFailing ? (this.lease.nextAsk?.() ?? null) : null;
      if (freeIn !== null && freeIn + 1 < pause) pause = freeIn + 1;
      yield* sleep(pause);
    }
  }

  /** One scan: ask the lease, call due, enqueue. Never throws (except its own cancellation). */
  *scanOnce(): Generator<unknown, ScanReport | null, any> {
    const loop = getRunningLoop();
    let fence: number | null;
    try {
      fence = yield* ensureFuture<number | null>(this.lease.acquire(), loop);
    } catch (err) {
      if (beingCancelled(err)) throw err;
      // Told once per outage (Redis away: every scan would fail alike until it is back).
      if (!this.leaseFailing) this.log.error('scanner lease failed, standing by until it answers', err);
      this.leaseFailing = true;
      this._state = 'standby';
      return null;
    }
    if (this.leaseFailing) {
      this.leaseFailing = false;
      this.log.info('scanner lease answers again', fence === null ? 'another process scans' : `fence ${fence}`);
    }
    if (fence === null) {
      if (this._state !== 'standby') this.log.info('scanner standing by, another process scans');
      this._state = 'standby';
      return null;
    }
    if (!this.announced || this._state !== 'active') this.log.info('scanner active', `every ${this.interval} ms`, `fence ${fence}`);
    this.announced = true;
    this._state = 'active';

    const items = yield* this.callDue(loop);
    if (items === null) return null;
    const report: ScanReport = { due: items.length, queued: 0, pending: 0, rejected: 0 };
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      try {
        const outcome = yield* ensureFuture<SubmitOutcome>(this.submit(item as DueItem, fence), loop);
        report[outcome]++;
      } catch (err) {
        if (beingCancelled(err)) throw err;
        report.rejected++;
        if (itemsFault(err)) {
          this.log.warn('scan item refused', err, describeItem(item));
          continue;
        }
        // Not this item's fault: the rest would fail alike (a fenced token, a queue that cannot
        // be reached), so the scan ends here, told once; the next scan tries again.
        const left = items.length - i - 1;
        if ((err as { code?: unknown }).code === 'ERR_FENCED') this.log.warn('scan stopped, fenced (another scanner took the lease)', err, `${left} items not tried`);
        else this.log.error('scan stopped, the queue failed', err, `${left} items not tried`);
        break;
      }
    }
    if (report.queued !== 0 || report.rejected !== 0) {
      this.log.debug('scan done', `${report.due} due, ${report.queued} queued, ${report.pending} pending, ${report.rejected} refused`);
    }
    return report;
  }

  private *callDue(loop: EventLoop): Generator<unknown, unknown[] | null, any> {
    const abort = new AbortController();
    const now = Date.now();
    const call = loop.createTask(() => this.due(now, { signal: abort.signal }), { name: 'due' });
    try {
      yield* wait([call], { timeout: this.timeout });
    } catch (err) {
      // The scanner itself is being stopped: stop the scan with it.
      abort.abort(err);
      call.cancel();
      throw err;
    }
    if (!call.done()) {
      // A due that ignores cancellation is left behind, not waited for: the next scan calls it again.
      const err = new TimeoutError(`due() did not answer within ${this.timeout} ms`);
      abort.abort(err);
      call.cancel();
      this.log.error('scan failed, due timed out', err);
      return null;
    }
    if (call.cancelled()) {
      this.log.error('scan failed, due was cancelled');
      return null;
    }
    const err = call.exception();
    if (err !== null) {
      this.log.error('scan failed, due threw', err);
      return null;
    }
    const value = call.result();
    if (value === undefined || value === null) return [];
    if (typeof value !== 'object' || typeof (value as Iterable<unknown>)[Symbol.iterator] !== 'function') {
      this.log.error('scan failed, due must return an array of { task, key, params? }', typeof value);
      return null;
    }
    return [...(value as Iterable<unknown>)];
  }
}

/** The scanner task itself is being cancelled (not a CancelledError from what it called). */
function beingCancelled(err: unknown): boolean {
  return err instanceof CancelledError && (currentTask()?.cancelling() ?? 0) > 0;
}

/** The item itself was refused (bad fields, unknown task): the scan goes on with the next one. */
function itemsFault(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_INVALID_ARG_TYPE' || code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_OUT_OF_RANGE' || code === 'ERR_UNKNOWN_TASK';
}

function describeItem(item: unknown): string {
  if (item !== null && typeof item === 'object') {
    const { task, key } = item as { task?: unknown; key?: unknown };
    return `${String(task)} ${String(key)}`;
  }
  return String(item);
}

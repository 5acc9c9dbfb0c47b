// Workers: N consumers, each an evloop task that takes a delivery, runs the task's handler as a
// task of its own under the task's time-out, and then — only then — acks, retries (nack with a
// delay) or dead-letters, as the failure's status band decides (retry-policy.ts).
//
// What is never lost: a consumer that is cancelled, or a pool that stops, requeues what it held
// (nack without delay) after giving the handler `cancelGrace` ms to end. A handler that ignores
// cancellation is abandoned after that grace (logged), never waited for forever. While runs
// last, the pool extends their deliveries every third of the visibility time-out, so a long run
// keeps its message; should the queue still hand the message to someone else (the lease was
// lost), the run is cancelled rather than finished twice, and its late ack would be refused.
import { Future } from '../core/future';
import { getRunningLoop, type EventLoop } from '../core/loop';
import { ensureFuture, type Task } from '../core/task';
import { sleep, wait } from '../core/combinators';
import { CancelledError, TimeoutError } from '../util/errors';
import { Status, statusMessage, statusOfError } from '../util/status';
import type { Logger } from '../util/logger';
import { validateInteger, validateMs } from '../util/validate';
import { decide, HARD_MAX_ATTEMPTS, type RetryPolicy } from './retry-policy';
import type { Registry, RunContext, TaskSpec } from './registry';
import type { Maybe } from './run-store';
import type { Delivery, Queue } from './queue';
import type { OpsChange, RunRecord } from './types';

export interface WorkerPoolOptions {
  queue: Queue;
  registry: Registry;
  policy: RetryPolicy;
  /** Concurrent consumers (default 4). */
  concurrency?: number;
  /** Milliseconds a cancelled handler gets to end before it is abandoned (default 5000). */
  cancelGrace?: number;
  /** The fencing token handed to handlers as ctx.fence. */
  fence?: () => number;
  /** Runs this process did not create (enqueued by another process on a shared queue) are run, not dropped. */
  adoptForeignRuns?: boolean;
  emit?: (change: OpsChange) => void;
}

export interface StopOptions {
  /** Milliseconds running handlers get to finish before they are cancelled and requeued (default 10 000). */
  timeout?: number;
}

type Interrupt = 'cancel' | 'stop' | 'timeout' | 'lost';

interface Active {
  readonly runId: string;
  readonly delivery: Delivery;
  /** Created when the handler first reads ctx.signal (most never do: it is the costliest part of a run). */
  abort: AbortController | null;
  /** Resolved when the handler ends, its time-out passes, or it is interrupted (cancel, stop, lost lease). */
  readonly wake: Future<void>;
  reason: Interrupt | null;
  timeout: number;
  /** Attempts started, this one included, as the run store counts them (across processes on a shared one). */
  readonly attempts: number;
}

const WHY: Readonly<Record<Interrupt, string>> = {
  cancel: 'cancelled by request',
  stop: 'worker stopped',
  timeout: 'time-out',
  lost: 'delivery lost to another consumer',
};

/** ctx.log: the process logger with `task key` as the default key. */
class RunLogger implements Logger {
  constructor(
    private readonly base: Logger,
    private readonly label: string,
  ) {}
  debug(desc: string, detail?: unknown, key: unknown = this.label): void {
    this.base.debug(desc, detail, key);
  }
  info(desc: string, detail?: unknown, key: unknown = this.label): void {
    this.base.info(desc, detail, key);
  }
  warn(desc: string, detail?: unknown, key: unknown = this.label): void {
    this.base.warn(desc, detail, key);
  }
  error(desc: string, detail?: unknown, key: unknown = this.label): void {
    this.base.error(desc, detail, key);
  }
  critical(desc: string, detail?: unknown, key: unknown = this.label): void {
    this.base.critical(desc, detail, key);
  }
}

/** The handler's ctx; `signal` and `log` are made on first use. */
class Context implements RunContext {
  private _log: Logger | null = null;
  constructor(
    readonly id: string,
    readonly task: string,
    readonly key: string,
    readonly attempt: number,
    readonly fence: number,
    private readonly active: Active,
    private readonly base: Logger,
  ) {}
  get signal(): AbortSignal {
    const active = this.active;
    if (active.abort === null) {
      active.abort = new AbortController();
      if (active.reason !== null) active.abort.abort(interruptError(active.reason, active.timeout));
    }
    return active.abort.signal;
  }
  get log(): Logger {
    return (this._log ??= new RunLogger(this.base, `${this.task} ${this.key}`));
  }
}

/** Waits for a shared store's write; the memory store's answer is already there. */
function* recorded(written: Maybe<unknown>): Generator<unknown, void, any> {
  if (written instanceof Future) yield* written;
}

/** settleThen's follow-up when the settling step wrote the record itself. */
function noRecord(): undefined {
  return undefined;
}

function interruptError(reason: Interrupt, ms: number): Error {
  return reason === 'timeout' ? new TimeoutError(`run timed out after ${ms} ms`) : new CancelledError(WHY[reason]);
}

export class WorkerPool {
  readonly concurrency: number;
  private readonly queue: Queue;
  private readonly registry: Registry;
  private readonly adoptForeignRuns: boolean;
  private readonly policy: RetryPolicy;
  private readonly cancelGrace: number;
  private readonly fence: () => number;
  private readonly emit: (change: OpsChange) => void;
  private readonly log: Logger;
  private loop: EventLoop | null = null;
  private consumers: Task<void>[] = [];
  private readonly waiting = new Set<Future<Delivery>>();
  private readonly active = new Map<string, Active>();
  // Acks sent and not yet answered (settleThen).
  private readonly settling = new Set<Future<unknown>>();
  private stopping = false;
  private beat: Task<void> | null = null;
  private stopped: Future<void> | null = null;

  constructor(options: WorkerPoolOptions) {
    this.queue = options.queue;
    this.registry = options.registry;
    this.policy = options.policy;
    this.concurrency = options.concurrency === undefined ? 4 : validateInteger(options.concurrency, 'workers', 0, 10_000);
    this.cancelGrace = options.cancelGrace === undefined ? 5000 : validateMs(options.cancelGrace, 'cancelGrace');
    this.fence = options.fence ?? (() => 0);
    this.adoptForeignRuns = options.adoptForeignRuns === true;
    this.emit = options.emit ?? (() => {});
    this.log = this.registry.log;
  }

  /** Consumers running now (0 before start and after stop). */
  get running(): number {
    return this.consumers.length;
  }

  /** Runs being handled by this pool right now. */
  get busy(): number {
    return this.active.size;
  }

  start(): void {
    if (this.loop !== null) return;
    const loop = (this.loop = getRunningLoop());
    if (this.concurrency > 0) this.beat = loop.createTask(() => this.heartbeat(), { name: 'worker-heartbeat' });
    for (let i = 0; i < this.concurrency; i++) {
      const task = loop.createTask(() => this.consume(), { name: `worker-${i + 1}` });
      this.consumers.push(task);
      task.addDoneCallback((t) => {
        this.consumers = this.consumers.filter((c) => c !== t);
        if (!t.cancelled() && t.exception() !== null) this.log.critical('worker crashed', t.exception(), t.getName());
      });
    }
  }

  /** Interrupts a run this pool is handling; false when it handles no such run. */
  cancelRun(runId: string): boolean {
    const active = this.active.get(runId);
    if (active === undefined) return false;
    this.interrupt(active, 'cancel');
    return true;
  }

  /**
   * Stops taking deliveries, lets running handlers finish for up to `timeout` ms, then cancels
   * and requeues what is left. Resolves once every consumer has ended.
   */
  stop(options: StopOptions = {}): Future<void> {
    if (this.stopped !== null) return this.stopped;
    const timeout = options.timeout === undefined ? 10_000 : validateMs(options.timeout, 'options.timeout');
    const loop = this.loop ?? getRunningLoop();
    this.stopping = true;
    for (const f of this.waiting) f.cancel('worker stopped');
    const consumers = this.consumers.slice();
    this.stopped = loop.createTask(async () => {
      try {
        const pending = consumers.length === 0 ? new Set<Task<void>>() : (await wait(consumers, { timeout }))[1];
        if (pending.size !== 0) {
          for (const active of this.active.values()) this.interrupt(active, 'stop');
          // Each interrupted consumer waits up to cancelGrace for its handler, then requeues.
          const [, stuck] = await wait(pending, { timeout: this.cancelGrace + 1000 });
          for (const t of stuck) t.cancel('worker stopped');
          if (stuck.size !== 0) await wait(stuck);
        }
        // Acks still on their way: their runs are recorded before stop() resolves (an answer
        // that never comes holds it no longer than a cancelled handler would).
        if (this.settling.size !== 0) await wait([...this.settling], { timeout: this.cancelGrace + 1000 });
      } finally {
        this.beat?.cancel();
        this.beat = null;
      }
    }) as unknown as Future<void>;
    return this.stopped;
  }

  private interrupt(active: Active, reason: Interrupt): void {
    if (active.reason !== null) return;
    active.reason = reason;
    this.wakeUp(active);
  }

  // ---- a consumer ----

  private *consume(): Generator<unknown, void, any> {
    while (!this.stopping) {
      const next = ensureFuture<Delivery>(this.queue.consume(), this.loop!);
      this.waiting.add(next);
      let delivery: Delivery;
      try {
        delivery = yield* next;
      } catch (err) {
        // A delivery that arrived in the same pass as our cancellation goes straight back.
        if (next.done() && !next.cancelled() && next.exception() === null) this.requeueUnstarted(next.result());
        if ((err as { code?: unknown }).code === 'ERR_QUEUE_CLOSED') return;
        if (err instanceof CancelledError) {
          if (this.stopping) return;
          throw err;
        }
        // A store that fails (a network queue) must not cost the pool a consumer.
        this.log.error('consume failed, trying again in 1 s', err);
        yield* sleep(1000);
        continue;
      } finally {
        this.waiting.delete(next);
      }
      this.emit({ kind: 'queue' });
      try {
        yield* this.handle(delivery);
      } catch (err) {
        if (err instanceof CancelledError) throw err;
        // Not settled: the message comes back after the visibility time-out.
        this.log.critical('worker failed handling a delivery', err, delivery.message.runId);
      }
    }
  }

  private requeueUnstarted(delivery: Delivery): void {
    delivery.nack();
    this.emit({ kind: 'queue' });
  }

  private *handle(delivery: Delivery): Generator<unknown, void, any> {
    const runId = delivery.message.runId;
    const registry = this.registry;
    let run: RunRecord | undefined;
    let started: RunRecord | undefined;
    // A store on the queue's server reads the record and starts the run in one step.
    let begun = registry.tasks.has(delivery.message.task) ? registry.begin(runId) : undefined;
    if (begun !== undefined) {
      let b = yield* begun;
      if (b.state === 'unknown' && this.adoptForeignRuns) {
        const adopted = registry.adopt(runId, delivery.message.task, delivery.key, delivery.message.params);
        if (adopted instanceof Future) yield* adopted;
        begun = registry.begin(runId)!;
        b = yield* begun;
      }
      if (b.state !== 'unknown') run = b.run;
      if (b.state === 'started') started = b.run;
    } else {
      // A shared store (Redis) answers with Futures; the memory store at once, with no Future made.
      const found = registry.get(runId);
      run = found instanceof Future ? yield* found : found;
      if (run === undefined && this.adoptForeignRuns && registry.tasks.has(delivery.message.task)) {
        const adopted = registry.adopt(runId, delivery.message.task, delivery.key, delivery.message.params);
        run = adopted instanceof Future ? yield* adopted : adopted;
      }
    }
    if (run === undefined || registry.isFinished(run)) {
      // Cancelled (or forgotten) while its message was on its way: nothing left to do.
      yield* this.settle(delivery.ack(), runId);
      return;
    }
    const spec = registry.tasks.get(run.task);
    if (spec === undefined) {
      yield* this.deadLetter(delivery, runId, Status.UNHANDLED, new Error(`no task named ${JSON.stringify(run.task)} in this process`), 'unknown task');
      return;
    }
    if (started === undefined && run.attempts >= HARD_MAX_ATTEMPTS) {
      const status = run.status < 0 ? run.status : Status.UNHANDLED;
      yield* this.deadLetter(delivery, runId, status, run.error ?? new Error('attempts exhausted'), `${HARD_MAX_ATTEMPTS} attempts made`);
      return;
    }
    if (started === undefined) {
      const begin = registry.started(runId);
      started = begin instanceof Future ? yield* begin : begin;
    }
    if (started === undefined) {
      // Finished meanwhile: cancelled from another process sharing the store.
      yield* this.settle(delivery.ack(), runId);
      return;
    }
    const loop = this.loop!;
    const active: Active = { runId, delivery, abort: null, wake: loop.createFuture<void>(), reason: null, timeout: spec.timeout, attempts: started.attempts };
    this.active.set(runId, active);
    const ctx = new Context(runId, run.task, run.key, started.attempts, this.fence(), active, this.log);
    const params = run.params;
    const runTask = loop.createTask(() => spec.run(params, ctx), { name: `${run.task} ${run.key}` });
    runTask._addCallbackInternal(() => this.wakeUp(active));
    const timer = loop.callLater(spec.timeout, this.onTimeout, active);
    let cancelledConsumer: unknown = null;
    try {
      yield* active.wake;
      if (!runTask.done()) yield* this.cancelRunTask(active, runTask);
    } catch (err) {
      // This consumer was cancelled: the run goes back to the queue, after its grace.
      cancelledConsumer = err;
      if (active.reason === null || active.reason === 'timeout') active.reason = 'stop';
      try {
        yield* this.cancelRunTask(active, runTask);
      } catch {
        // cancelled again: requeue at once
      }
    } finally {
      timer.cancel();
      this.active.delete(runId);
    }
    yield* this.conclude(active, runTask, spec);
    if (cancelledConsumer !== null) throw cancelledConsumer;
  }

  private wakeUp(active: Active): void {
    if (!active.wake.done()) active.wake.setResult(undefined);
  }

  private readonly onTimeout = (active: Active): void => {
    if (active.reason === null) active.reason = 'timeout';
    this.wakeUp(active);
  };

  private *cancelRunTask(active: Active, runTask: Task<unknown>): Generator<unknown, void, any> {
    const reason = active.reason ?? 'stop';
    active.reason = reason;
    if (active.abort !== null && !active.abort.signal.aborted) active.abort.abort(interruptError(reason, active.timeout));
    runTask.cancel(WHY[reason]);
    if (!runTask.done()) yield* wait([runTask], { timeout: this.cancelGrace });
    if (!runTask.done()) {
      this.log.error(`run ignored its cancellation for ${this.cancelGrace} ms, abandoned`, `${runTask.getName()}`, active.runId);
    }
  }

  /**
   * One heartbeat for the whole pool: every third of the visibility time-out, each delivery in
   * hand is extended. Its timer is always due before any delivery's deadline, so even after the
   * loop was blocked past the time-out, the extends run before the queue's expiry check. A
   * refused extend means the lease is lost: that run is interrupted.
   */
  private *heartbeat(): Generator<unknown, void, any> {
    const every = this.queue.visibilityTimeout / 3;
    for (;;) {
      yield* sleep(every);
      for (const active of this.active.values()) {
        let extended: Future<boolean>;
        try {
          extended = ensureFuture<boolean>(active.delivery.extend(), this.loop!);
        } catch (err) {
          this.log.warn('delivery extend failed', err, active.runId);
          continue;
        }
        const check = (f: Future<boolean>): void => {
          if (f.cancelled()) return;
          if (f.exception() !== null) this.log.warn('delivery extend failed', f.exception(), active.runId);
          else if (!f.result() && this.active.get(active.runId) === active) this.interrupt(active, 'lost');
        };
        if (extended.done()) check(extended);
        else extended.addDoneCallback(check);
      }
    }
  }

  private *conclude(active: Active, runTask: Task<unknown>, spec: TaskSpec): Generator<unknown, void, any> {
    const { runId, delivery, reason } = active;
    const registry = this.registry;
    if (reason === 'lost') {
      // Someone else owns the message now; it records the outcome.
      this.log.warn('run stopped, its delivery went to another consumer', `${spec.name}`, runId);
      return;
    }
    const finishedOk = runTask.done() && !runTask.cancelled() && runTask.exception() === null;
    if (finishedOk) {
      // Finished, even if an interrupt came too late to stop it: the result stands. The consumer
      // goes for its next delivery while the ack travels (a networked queue answers one round
      // trip later); the run is recorded as succeeded when the ack is confirmed.
      const result = runTask.result();
      // Where the store can, the ack writes the record too (one atomic step: no process can die
      // between them and leave the run "running").
      const acked = registry.ackSucceeded(delivery, runId, result);
      if (acked !== undefined) this.settleThen(acked, runId, noRecord);
      else this.settleThen(delivery.ack(), runId, () => registry.succeeded(runId, result));
      return;
    }
    if (reason === 'cancel') {
      const acked = registry.ackCancelled(delivery, runId, WHY.cancel);
      if (acked !== undefined) yield* this.settle(acked, runId);
      else if (yield* this.settle(delivery.ack(), runId)) yield* recorded(registry.cancelled(runId, WHY.cancel));
      return;
    }
    if (reason === 'stop') {
      if (yield* this.settle(delivery.nack(), runId)) yield* recorded(registry.requeued(runId, WHY.stop));
      return;
    }
    let status: number;
    let error: unknown;
    if (reason === 'timeout') {
      status = Status.TIMED_OUT;
      error = interruptError('timeout', spec.timeout);
    } else if (runTask.cancelled()) {
      status = Status.CANCELLED;
      error = new CancelledError('the handler was cancelled');
    } else {
      error = runTask.exception();
      status = statusOfError(error);
    }
    const decision = decide(status, Math.max(1, active.attempts), spec, this.policy);
    if (decision.action === 'retry') {
      if (yield* this.settle(delivery.nack({ delay: decision.delay }), runId)) yield* recorded(registry.retrying(runId, status, error, decision.delay, decision.why));
    } else {
      yield* this.deadLetter(delivery, runId, status, error, decision.why);
    }
  }

  private *deadLetter(delivery: Delivery, runId: string, status: number, error: unknown, why: string): Generator<unknown, void, any> {
    const reason = { status, statusMessage: statusMessage(status) };
    const final = this.registry.deadLetterFinal(delivery, runId, reason, error, why);
    if (final !== undefined) {
      if (yield* this.settle(final, runId)) this.emit({ kind: 'deadLetter' });
      return;
    }
    if (yield* this.settle(delivery.deadLetter(reason), runId)) {
      yield* recorded(this.registry.deadLettered(runId, status, error, why));
      this.emit({ kind: 'deadLetter' });
    }
  }

  /**
   * settle() without waiting: `then` (the run's record) runs once the queue confirms; stop()
   * waits for what is still owed, the record's write included.
   */
  private settleThen(op: PromiseLike<boolean>, runId: string, then: () => Maybe<unknown>): void {
    let f: Future<boolean>;
    try {
      f = ensureFuture<boolean>(op, this.loop!);
    } catch (err) {
      this.log.error('queue refused the outcome', err, runId);
      return;
    }
    if (f.done()) {
      this.settled(f, runId, then);
      return;
    }
    this.owe(f, () => this.settled(f, runId, then));
  }

  private owe(f: Future<unknown>, done: () => void): void {
    this.settling.add(f);
    f.addDoneCallback(() => {
      this.settling.delete(f);
      done();
    });
  }

  private settled(f: Future<boolean>, runId: string, then: () => Maybe<unknown>): void {
    const err = f.cancelled() ? new CancelledError('the outcome was cancelled') : f.exception();
    if (err !== null) {
      this.log.error('queue refused the outcome', err, runId);
      return;
    }
    this.emit({ kind: 'queue' });
    if (!f.result()) {
      this.log.warn('run outcome dropped, its delivery had expired', undefined, runId);
      return;
    }
    let written: Maybe<unknown>;
    try {
      written = then();
    } catch (e) {
      this.log.critical('worker failed handling a delivery', e, runId);
      return;
    }
    if (!(written instanceof Future)) return;
    // A run store in Redis writes the record: that write is owed too.
    const w = written;
    this.owe(w, () => {
      if (!w.cancelled() && w.exception() !== null) this.log.critical('worker failed handling a delivery', w.exception(), runId);
    });
  }

  /** Awaits an ack/nack/deadLetter; a refused one (stale delivery) means the outcome is not ours to record. */
  private *settle(op: PromiseLike<boolean>, runId: string): Generator<unknown, boolean, any> {
    let ok: boolean;
    try {
      ok = yield* ensureFuture<boolean>(op, this.loop!);
    } catch (err) {
      this.log.error('queue refused the outcome', err, runId);
      return false;
    }
    this.emit({ kind: 'queue' });
    if (!ok) this.log.warn('run outcome dropped, its delivery had expired', undefined, runId);
    return ok;
  }
}

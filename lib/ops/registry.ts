// The registry: task definitions (checked once, when loaded) and the runs, kept by a RunStore
// (run-store.ts: this process's memory, or Redis shared by every process of a queue). Every state
// change goes through one method here, which logs it in the project's format
// (`run finished, resize image:42: 0`) and reports it to onChange once the store has applied it;
// the stores refuse to touch a finished run, so a late worker cannot overwrite a cancellation.
import { randomUUID } from 'crypto';
import { Status, STATUS_BANDS } from '../util/status';
import { toLogger, type Logger } from '../util/logger';
import { codedError, invalidArgType, invalidArgValue, validateInteger, validateMs, validateObject } from '../util/validate';
import { HARD_MAX_ATTEMPTS } from './retry-policy';
import { MemoryRunStore } from './memory-run-store';
import type { Future } from '../core/future';
import type { DeadLetterReason, Delivery, Queue, QueueMessage } from './queue';
import { copyRun, newRunRecord, thenMaybe, type BeginOutcome, type Maybe, type RunPatch, type RunStore, type RunStoreLimits } from './run-store';
import type { OpsChange, RunQuery, RunRecord, TaskInfo } from './types';

/** What a handler gets besides its params. `signal` aborts when the run is cancelled or times out. */
export interface RunContext {
  readonly id: string;
  readonly task: string;
  readonly key: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly signal: AbortSignal;
  /** The process logger; `key` defaults to `task key`. */
  readonly log: Logger;
  /** The scanner lease's fencing token (0 on the embedded queue, which has a single scanner). */
  readonly fence: number;
}

/** A generator function or async function (or a plain function); its return value is the result. */
export type TaskHandler = (params: any, ctx: RunContext) => unknown;

export interface TaskDefinition {
  run: TaskHandler;
  /** Re-runs allowed after the first attempt for retry-optional and transient failures (default 3). */
  retries?: number;
  /** Milliseconds an attempt may take before it is cancelled as -ETIMEDOUT (default 30 000). */
  timeout?: number;
  /** Milliseconds before the first retry-later re-run, doubling after each (default 1000). */
  retryDelay?: number;
}

export interface TaskSpec extends TaskInfo {
  readonly run: TaskHandler;
}

export const TASK_DEFAULTS = Object.freeze({ retries: 3, timeout: 30_000, retryDelay: 1000 });

const TASK_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;
const KEY_MAX = 1024;

/** Checks a tasks map (`{ name: { run, retries?, timeout?, retryDelay? } }`) and fills in the defaults. */
export function defineTasks(tasks: unknown): Map<string, TaskSpec> {
  validateObject(tasks, 'tasks');
  const specs = new Map<string, TaskSpec>();
  for (const [name, def] of Object.entries(tasks)) {
    if (!TASK_NAME.test(name)) throw invalidArgValue('tasks', name, 'has a task name that is not 1-128 of A-Z a-z 0-9 _ . : -');
    const where = `tasks.${name}`;
    validateObject(def, where);
    if (typeof def.run !== 'function') throw invalidArgType(`${where}.run`, 'of type function', def.run);
    const retries = def.retries === undefined ? TASK_DEFAULTS.retries : validateInteger(def.retries, `${where}.retries`, 0, HARD_MAX_ATTEMPTS - 1);
    const timeout = def.timeout === undefined ? TASK_DEFAULTS.timeout : validateMs(def.timeout, `${where}.timeout`);
    if (timeout === 0 || !Number.isFinite(timeout)) throw invalidArgValue(`${where}.timeout`, timeout, 'must be a finite number of milliseconds > 0');
    const retryDelay = def.retryDelay === undefined ? TASK_DEFAULTS.retryDelay : validateMs(def.retryDelay, `${where}.retryDelay`);
    if (!Number.isFinite(retryDelay)) throw invalidArgValue(`${where}.retryDelay`, retryDelay, 'must be a finite number of milliseconds');
    specs.set(name, Object.freeze({ name, run: def.run as TaskHandler, retries, timeout, retryDelay }));
  }
  if (specs.size === 0) throw invalidArgValue('tasks', tasks, 'must define at least one task');
  return specs;
}

/** Checks a run key (a non-empty string of at most 1024 characters). */
export function checkRunKey(key: unknown, name = 'key'): string {
  if (typeof key !== 'string') throw invalidArgType(name, 'of type string', key);
  if (key.length === 0 || key.length > KEY_MAX) throw invalidArgValue(name, key, `must be 1-${KEY_MAX} characters long`);
  return key;
}

const CATEGORIES: ReadonlySet<string> = new Set(STATUS_BANDS.map((b) => b.category));

/** Checks a RunQuery: limit and offset non-negative integers, category a status category name. */
export function checkRunQuery(query: unknown): RunQuery {
  validateObject(query, 'query');
  const limit = validateInteger(query.limit, 'query.limit', 0);
  const offset = validateInteger(query.offset, 'query.offset', 0);
  if (query.task !== undefined && typeof query.task !== 'string') throw invalidArgType('query.task', 'of type string', query.task);
  if (query.category !== undefined) {
    if (typeof query.category !== 'string') throw invalidArgType('query.category', 'of type string', query.category);
    if (!CATEGORIES.has(query.category)) throw invalidArgValue('query.category', query.category, `must be one of ${[...CATEGORIES].join(', ')}`);
  }
  return { task: query.task as string | undefined, category: query.category as string | undefined, limit, offset };
}

export function errorInfo(err: unknown): { message: string; code?: string } {
  if (err !== null && typeof err === 'object') {
    const e = err as { message?: unknown; code?: unknown };
    const info: { message: string; code?: string } = { message: typeof e.message === 'string' ? e.message : String(err) };
    if (typeof e.code === 'string') info.code = e.code;
    return info;
  }
  return { message: String(err) };
}

export interface RegistryOptions extends RunStoreLimits {
  tasks: unknown;
  /** Where the run records live (default: a MemoryRunStore with the limits given here). */
  store?: RunStore;
  logger?: unknown;
  onChange?: (change: OpsChange) => void;
}

export class Registry {
  readonly tasks: ReadonlyMap<string, TaskSpec>;
  readonly log: Logger;
  readonly store: RunStore;
  private readonly emit: (change: OpsChange) => void;

  constructor(options: RegistryOptions) {
    validateObject(options, 'options');
    this.tasks = defineTasks(options.tasks);
    if (options.store !== undefined) {
      const store = options.store as unknown;
      if (store === null || typeof store !== 'object' || typeof (store as RunStore).update !== 'function') throw invalidArgType('options.store', 'a RunStore', store);
      this.store = options.store;
    } else {
      this.store = new MemoryRunStore({ maxFinishedRuns: options.maxFinishedRuns, maxRunAge: options.maxRunAge });
    }
    this.log = toLogger(options.logger);
    this.emit = options.onChange ?? (() => {});
  }

  listTasks(): TaskInfo[] {
    return [...this.tasks.values()].map(({ name, retries, timeout, retryDelay }) => ({ name, retries, timeout, retryDelay }));
  }

  /** The task, or an Error with code ERR_UNKNOWN_TASK. */
  task(name: unknown): TaskSpec {
    if (typeof name !== 'string') throw invalidArgType('task', 'of type string', name);
    const spec = this.tasks.get(name);
    if (spec === undefined) throw codedError(Error, 'ERR_UNKNOWN_TASK', `no task named ${JSON.stringify(name)}`);
    return spec;
  }

  /** A new queued run (status 1). `key` defaults to the run id, which never collides. */
  create(task: string, key: string | undefined, params: unknown): Maybe<RunRecord> {
    this.task(task);
    const id = randomUUID();
    const run = newRunRecord(id, task, key ?? id, params);
    return thenMaybe(this.store.insert(run), () => run);
  }

  /**
   * A new run whose record is written by the queue's enqueue, in one atomic step, where the
   * store can ride on the queue (RunStore.insertEnqueued): the record exists exactly when the
   * message was taken. Undefined otherwise (then create(), enqueue, and discard() if refused).
   */
  createEnqueued(queue: Queue, task: string, key: string | undefined, params: unknown, message: (run: RunRecord) => QueueMessage, fence: number | undefined): { run: RunRecord; enqueued: Future<void> } | undefined {
    const store = this.store;
    if (store.insertEnqueued === undefined) return undefined;
    this.task(task);
    const id = randomUUID();
    const run = newRunRecord(id, task, key ?? id, params);
    const enqueued = store.insertEnqueued(queue, run, message(run), fence === undefined ? { key: run.key } : { key: run.key, fence });
    return enqueued === undefined ? undefined : { run, enqueued };
  }

  /**
   * A run created by another process on a shared queue whose record this store lacks (a memory
   * store, or a record the shared store no longer keeps): recorded under its own id. A store
   * never overwrites a record that exists.
   */
  adopt(id: string, task: string, key: string, params: unknown): Maybe<RunRecord> {
    const run = newRunRecord(id, task, key, params);
    return thenMaybe(this.store.insert(run), () => run);
  }

  /** Logs and reports a run created by create() once its message is in the queue. */
  queued(run: RunRecord, how: string): void {
    this.log.debug(`run queued (${how})`, label(run), run.status);
    this.emit({ kind: 'run', runId: run.id, task: run.task });
  }

  /** Forgets a run whose message the queue refused: it was never visible as queued. */
  discard(id: string): Maybe<void> {
    return this.store.discard(id);
  }

  /** The record as the store has it (a memory store's live object: callers outside get copies). */
  get(id: string): Maybe<RunRecord | undefined> {
    return this.store.get(id);
  }

  /** A copy for callers that may hold on to it or change it. */
  snapshot(id: string): Maybe<RunRecord | undefined> {
    return thenMaybe(this.store.get(id), (run) => (run === undefined ? undefined : this.store.kind === 'memory' ? copyRun(run) : run));
  }

  /** Runs, newest first, filtered by task and status category. */
  list(query: RunQuery): Maybe<{ runs: RunRecord[]; total: number }> {
    return this.store.list(query);
  }

  /** Records held in this process (undefined for a shared store). */
  get size(): number | undefined {
    return this.store.size;
  }

  isFinished(run: RunRecord): boolean {
    return run.endedAt !== undefined;
  }

  // ---- transitions: each answers the new record, or undefined (and changes nothing) when the
  // run is gone or finished ----

  started(id: string): Maybe<RunRecord | undefined> {
    return this.apply(id, { status: Status.IN_PROCESS, step: 'start' }, (run) => this.logStarted(run));
  }

  /**
   * The worker's read of the record and its start in one step, where the store offers it
   * (RunStore.begin); undefined otherwise (then get() and started()).
   */
  begin(id: string): Future<BeginOutcome> | undefined {
    const store = this.store;
    if (store.begin === undefined) return undefined;
    return thenMaybe(store.begin(id, HARD_MAX_ATTEMPTS), (b) => {
      if (b.state === 'started') {
        this.logStarted(b.run);
        this.emit({ kind: 'run', runId: id, task: b.run.task });
      }
      return b;
    }) as Future<BeginOutcome>;
  }

  private logStarted(run: RunRecord): void {
    this.log.debug(`run started, attempt ${run.attempts}`, label(run), run.status);
  }

  succeeded(id: string, result: unknown): Maybe<RunRecord | undefined> {
    return this.apply(id, successPatch(result), (run) => this.logSucceeded(run));
  }

  private logSucceeded(run: RunRecord): void {
    this.log.info('run finished', label(run), run.status);
  }

  /**
   * The ack and the success in one atomic step, where the store can ride on the delivery's
   * queue (RunStore.settleFinal): answers whether the ack was taken. Undefined otherwise.
   */
  ackSucceeded(delivery: Delivery, id: string, result: unknown): Future<boolean> | undefined {
    return this.settleFinal(delivery, id, successPatch(result), undefined, (run) => this.logSucceeded(run));
  }

  /** As ackSucceeded, for a cancelled run. */
  ackCancelled(delivery: Delivery, id: string, why: string): Future<boolean> | undefined {
    return this.settleFinal(delivery, id, cancelPatch(why), undefined, (run) => this.logCancelled(run, why));
  }

  /** As ackSucceeded, for a dead letter: the message goes to the dead letters with the record's final state. */
  deadLetterFinal(delivery: Delivery, id: string, reason: DeadLetterReason, error: unknown, why: string): Future<boolean> | undefined {
    return this.settleFinal(delivery, id, { status: reason.status, step: 'finish', error: errorInfo(error) }, reason, (run) => this.logDeadLettered(run, why));
  }

  private settleFinal(delivery: Delivery, id: string, patch: RunPatch, reason: DeadLetterReason | undefined, logIt: (run: RunRecord) => void): Future<boolean> | undefined {
    const settled = this.store.settleFinal?.(delivery, id, patch, reason);
    if (settled === undefined) return undefined;
    return thenMaybe(settled, ({ settled: ok, run }) => {
      if (ok) this.applied(id, patch, run, logIt);
      return ok;
    }) as Future<boolean>;
  }

  /** A failed attempt that will run again after `delay` ms: the run shows the failure's code meanwhile. */
  retrying(id: string, status: number, error: unknown, delay: number, why: string): Maybe<RunRecord | undefined> {
    return this.apply(id, { status, error: errorInfo(error) }, (run) => {
      this.log.warn(`run failed, ${why}: retry in ${Math.round(delay)} ms`, label(run), run.status);
    });
  }

  /** A failure the run does not come back from; its message went to the dead letters. */
  deadLettered(id: string, status: number, error: unknown, why: string): Maybe<RunRecord | undefined> {
    return this.apply(id, { status, step: 'finish', error: errorInfo(error) }, (run) => this.logDeadLettered(run, why));
  }

  private logDeadLettered(run: RunRecord, why: string): void {
    this.log.error(`run failed, ${why}: dead letter`, label(run), run.status);
  }

  cancelled(id: string, why: string): Maybe<RunRecord | undefined> {
    return this.apply(id, cancelPatch(why), (run) => this.logCancelled(run, why));
  }

  private logCancelled(run: RunRecord, why: string): void {
    this.log.warn(`run cancelled, ${why}`, label(run), run.status);
  }

  /** Back in the queue without a verdict (worker stopped, or its lease expired): queued again. */
  requeued(id: string, why: string): Maybe<RunRecord | undefined> {
    return this.apply(id, { status: Status.INIT }, (run) => {
      this.log.info(`run requeued, ${why}`, label(run), run.status);
    });
  }

  private apply(id: string, patch: RunPatch, logIt: (run: RunRecord) => void): Maybe<RunRecord | undefined> {
    return thenMaybe(this.store.update(id, patch), (run) => this.applied(id, patch, run, logIt));
  }

  private applied(id: string, patch: RunPatch, run: RunRecord | undefined, logIt: (run: RunRecord) => void): RunRecord | undefined {
    if (run === undefined) {
      // Finished already (cancelled, possibly by another process): the first verdict stands.
      this.log.debug('run change not recorded, the run has already finished or is gone', `status ${patch.status}`, id);
      return undefined;
    }
    logIt(run);
    this.emit({ kind: 'run', runId: id, task: run.task });
    return run;
  }
}

function successPatch(result: unknown): RunPatch {
  return { status: Status.SUCCESS, step: 'finish', result: result === undefined ? null : result, error: null };
}

function cancelPatch(why: string): RunPatch {
  return { status: Status.CANCELLED, step: 'finish', error: { message: why, code: 'ERR_CANCELLED' } };
}

function label(run: RunRecord): string {
  return `${run.task} ${run.key}`;
}

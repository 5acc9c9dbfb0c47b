// The registry: task definitions (checked once, when loaded) and the runs of this process, with
// their status codes. Every state change goes through one method here, which logs it in the
// project's format (`run finished, resize image:42: 0`) and reports it to onChange; the
// transitions refuse to touch a finished run, so a late worker cannot overwrite a cancellation.
import { randomUUID } from 'crypto';
import { Status, statusCategory, statusMessage, STATUS_BANDS, type StatusCategory } from '../util/status';
import { toLogger, type Logger } from '../util/logger';
import { codedError, invalidArgType, invalidArgValue, validateInteger, validateMs, validateObject } from '../util/validate';
import { HARD_MAX_ATTEMPTS } from './retry-policy';
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

export interface RegistryOptions {
  tasks: unknown;
  /** Finished runs kept; past it the oldest finished run is dropped (default 10 000). */
  maxFinishedRuns?: number;
  logger?: unknown;
  onChange?: (change: OpsChange) => void;
}

interface Run extends RunRecord {
  category: StatusCategory;
}

export class Registry {
  readonly tasks: ReadonlyMap<string, TaskSpec>;
  readonly log: Logger;
  private readonly maxFinished: number;
  private readonly runs = new Map<string, Run>();
  private readonly finished: string[] = [];
  private finishedHead = 0;
  private readonly emit: (change: OpsChange) => void;

  constructor(options: RegistryOptions) {
    validateObject(options, 'options');
    this.tasks = defineTasks(options.tasks);
    this.maxFinished = options.maxFinishedRuns === undefined ? 10_000 : validateInteger(options.maxFinishedRuns, 'options.maxFinishedRuns', 0);
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
  create(task: string, key: string | undefined, params: unknown): RunRecord {
    this.task(task);
    const id = randomUUID();
    const run: Run = {
      id,
      task,
      key: key ?? id,
      params: params === undefined ? null : params,
      status: Status.INIT,
      statusMessage: statusMessage(Status.INIT),
      category: 'init',
      attempts: 0,
      createdAt: new Date().toISOString(),
    };
    this.runs.set(id, run);
    return run;
  }

  /** A run created by another process on a shared queue, recorded here under its own id. */
  adopt(id: string, task: string, key: string, params: unknown): RunRecord {
    const known = this.runs.get(id);
    if (known !== undefined) return known;
    const run: Run = {
      id,
      task,
      key,
      params: params === undefined ? null : params,
      status: Status.INIT,
      statusMessage: statusMessage(Status.INIT),
      category: 'init',
      attempts: 0,
      createdAt: new Date().toISOString(),
    };
    this.runs.set(id, run);
    return run;
  }

  /** Logs and reports a run created by create() once its message is in the queue. */
  queued(run: RunRecord, how: string): void {
    this.log.debug(`run queued (${how})`, label(run), run.status);
    this.emit({ kind: 'run', runId: run.id, task: run.task });
  }

  /** Forgets a run whose message the queue refused: it was never visible as queued. */
  discard(id: string): void {
    this.runs.delete(id);
  }

  /** The live record (internal: callers outside the registry get copies). */
  get(id: string): RunRecord | undefined {
    return this.runs.get(id);
  }

  /** A copy for callers that may hold on to it or change it. */
  snapshot(id: string): RunRecord | undefined {
    const run = this.runs.get(id);
    return run === undefined ? undefined : copy(run);
  }

  /** Runs, newest first, filtered by task and status category. */
  list(query: RunQuery): { runs: RunRecord[]; total: number } {
    const all = [...this.runs.values()];
    const out: RunRecord[] = [];
    let total = 0;
    for (let i = all.length - 1; i >= 0; i--) {
      const run = all[i]!;
      if (query.task !== undefined && run.task !== query.task) continue;
      if (query.category !== undefined && run.category !== query.category) continue;
      if (total >= query.offset && out.length < query.limit) out.push(copy(run));
      total++;
    }
    return { runs: out, total };
  }

  get size(): number {
    return this.runs.size;
  }

  isFinished(run: RunRecord): boolean {
    return run.endedAt !== undefined;
  }

  // ---- transitions: each returns false (and changes nothing) when the run is gone or finished ----

  started(id: string): RunRecord | undefined {
    const run = this.live(id);
    if (run === undefined) return undefined;
    run.attempts++;
    run.startedAt ??= new Date().toISOString();
    this.set(run, Status.IN_PROCESS);
    this.log.debug(`run started, attempt ${run.attempts}`, label(run), run.status);
    this.emit({ kind: 'run', runId: id, task: run.task });
    return run;
  }

  succeeded(id: string, result: unknown): boolean {
    const run = this.live(id);
    if (run === undefined) return false;
    run.result = result === undefined ? null : result;
    delete run.error;
    this.set(run, Status.SUCCESS);
    this.finish(run);
    this.log.info('run finished', label(run), run.status);
    this.emit({ kind: 'run', runId: id, task: run.task });
    return true;
  }

  /** A failed attempt that will run again after `delay` ms: the run shows the failure's code meanwhile. */
  retrying(id: string, status: number, error: unknown, delay: number, why: string): boolean {
    const run = this.live(id);
    if (run === undefined) return false;
    run.error = errorInfo(error);
    this.set(run, status);
    this.log.warn(`run failed, ${why}: retry in ${Math.round(delay)} ms`, label(run), run.status);
    this.emit({ kind: 'run', runId: id, task: run.task });
    return true;
  }

  /** A failure the run does not come back from; its message went to the dead letters. */
  deadLettered(id: string, status: number, error: unknown, why: string): boolean {
    const run = this.live(id);
    if (run === undefined) return false;
    run.error = errorInfo(error);
    this.set(run, status);
    this.finish(run);
    this.log.error(`run failed, ${why}: dead letter`, label(run), run.status);
    this.emit({ kind: 'run', runId: id, task: run.task });
    return true;
  }

  cancelled(id: string, why: string): boolean {
    const run = this.live(id);
    if (run === undefined) return false;
    run.error = { message: why, code: 'ERR_CANCELLED' };
    this.set(run, Status.CANCELLED);
    this.finish(run);
    this.log.warn(`run cancelled, ${why}`, label(run), run.status);
    this.emit({ kind: 'run', runId: id, task: run.task });
    return true;
  }

  /** Back in the queue without a verdict (worker stopped, or its lease expired): queued again. */
  requeued(id: string, why: string): boolean {
    const run = this.live(id);
    if (run === undefined) return false;
    this.set(run, Status.INIT);
    this.log.info(`run requeued, ${why}`, label(run), run.status);
    this.emit({ kind: 'run', runId: id, task: run.task });
    return true;
  }

  private live(id: string): Run | undefined {
    const run = this.runs.get(id);
    return run === undefined || run.endedAt !== undefined ? undefined : run;
  }

  private set(run: Run, status: number): void {
    run.status = status;
    run.statusMessage = statusMessage(status);
    run.category = statusCategory(status);
  }

  private finish(run: Run): void {
    run.endedAt = new Date().toISOString();
    this.finished.push(run.id);
    while (this.finished.length - this.finishedHead > this.maxFinished) {
      const oldest = this.finished[this.finishedHead]!;
      this.finished[this.finishedHead++] = '';
      this.runs.delete(oldest);
    }
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finished.length) {
      this.finished.splice(0, this.finishedHead);
      this.finishedHead = 0;
    }
  }
}

function label(run: RunRecord): string {
  return `${run.task} ${run.key}`;
}

function copy(run: RunRecord): RunRecord {
  const out: RunRecord = { ...run };
  if (run.error !== undefined) out.error = { ...run.error };
  return out;
}

// The embedded TaskOps: registry + queue + scanner + workers in one process, behind the
// interface the REST API, the dashboard and the CLI program against (types.ts). Every state
// change — by a request, a worker or the scanner — is reported to onChange listeners, which is
// what lets the API drop exactly the cached answers a change affects.
import { Future } from '../core/future';
import { getRunningLoop, type EventLoop } from '../core/loop';
import { ensureFuture } from '../core/task';
import { codedError, invalidArgType, validateObject } from '../util/validate';
import type { Logger } from '../util/logger';
import { MemoryQueue } from './memory-queue';
import { checkRunKey, checkRunQuery, Registry, type TaskDefinition } from './registry';
import { copyRun, type RunStore } from './run-store';
import { retryPolicy, type RetryPolicyOptions } from './retry-policy';
import { Scanner, type DueFunction, type DueItem, type ScannerLease, type SubmitOutcome } from './scanner';
import { WorkerPool, type StopOptions } from './worker';
import type { DeadLetterEntry, Queue, QueueMessage } from './queue';
import type { DeadLetter, Health, OpsChange, QueueStats, RunQuery, RunRecord, TaskInfo, TaskOps } from './types';

/** An error after which an enqueue may or may not have happened (a definite refusal is not one). */
function outcomeUnknown(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ERR_REDIS_CONNECTION_LOST' || code === 'ERR_TIMEOUT';
}

export interface TaskOpsOptions {
  /** Task definitions by name: `{ run, retries?, timeout?, retryDelay? }`. */
  tasks: Record<string, TaskDefinition>;
  /** The scan; without it there is no scanner. */
  due?: DueFunction;
  /** Default: a new MemoryQueue with `visibilityTimeout`, closed by stop(). */
  queue?: Queue;
  visibilityTimeout?: number;
  /** Concurrent consumers (default 4; 0: this process only enqueues and answers). */
  workers?: number;
  /** false: no scanner even with a `due` (default true). */
  scanner?: boolean;
  /** Milliseconds between scans (default 1000). */
  interval?: number;
  /** Milliseconds a due() call may take (default: the interval). */
  dueTimeout?: number;
  lease?: ScannerLease;
  /** Where run records live (default: this process's memory; a RedisRunStore shares them). */
  store?: RunStore;
  /** Finished runs kept by the default store (default 10 000). */
  maxFinishedRuns?: number;
  /** Milliseconds a finished run is kept by the default store (default 0: only the count bounds it). */
  maxRunAge?: number;
  /** Milliseconds a cancelled handler gets before it is abandoned (default 5000). */
  cancelGrace?: number;
  retry?: RetryPolicyOptions;
  logger?: unknown;
}

/** TaskOps plus what the process that owns it needs: start, stop and its parts. */
export interface EmbeddedTaskOps extends TaskOps {
  readonly registry: Registry;
  readonly queue: Queue;
  readonly workers: WorkerPool;
  readonly scanner: Scanner | null;
  readonly log: Logger;
  /** Starts the scanner and the workers. */
  start(): void;
  /**
   * Graceful stop: the scanner stops, the workers take nothing more and get `timeout` ms to finish
   * what they run (then it is cancelled and requeued), and a queue created here is closed.
   */
  stop(options?: StopOptions): Future<void>;
}

function settled<T>(loop: EventLoop, value: T): Future<T> {
  const f = loop.createFuture<T>();
  f.setResult(value);
  return f;
}

function failed<T>(loop: EventLoop, err: unknown): Future<T> {
  const f = loop.createFuture<T>();
  f.setException(err);
  return f;
}

/** Creates the embedded TaskOps on the running loop (call it inside run()). */
export function createTaskOps(options: TaskOpsOptions): EmbeddedTaskOps {
  validateObject(options, 'options');
  const loop = getRunningLoop();
  const listeners = new Set<(change: OpsChange) => void>();
  const emit = (change: OpsChange): void => {
    for (const listener of listeners) {
      try {
        listener(change);
      } catch (err) {
        log.error('onChange listener threw', err);
      }
    }
  };
  const registry = new Registry({
    tasks: options.tasks,
    store: options.store,
    maxFinishedRuns: options.maxFinishedRuns,
    maxRunAge: options.maxRunAge,
    logger: options.logger,
    onChange: emit,
  });
  const store = registry.store;
  const log: Logger = registry.log;
  const ownQueue = options.queue === undefined;
  const queue: Queue = options.queue ?? new MemoryQueue({ visibilityTimeout: options.visibilityTimeout });
  const policy = retryPolicy(options.retry);
  let fence = 0;
  const workers = new WorkerPool({
    queue,
    registry,
    policy,
    concurrency: options.workers,
    cancelGrace: options.cancelGrace,
    fence: () => fence,
    // A queue passed in may be shared with other processes (Redis): their runs arrive here too.
    adoptForeignRuns: !ownQueue,
    emit,
  });
  let scanner: Scanner | null = null;
  if (options.due !== undefined && options.scanner !== false) {
    scanner = new Scanner({
      due: options.due,
      interval: options.interval,
      timeout: options.dueTimeout,
      lease: options.lease,
      logger: log,
      submit: (item, token) => {
        fence = token;
        return loop.createTask(() => submitDue(item, token));
      },
    });
  }

  const message = (run: RunRecord): QueueMessage => ({ runId: run.id, task: run.task, params: run.params });

  /**
   * Creates a run and enqueues it; the record is dropped unseen when the queue refuses the key.
   * The memory queue answers at once: then no task is needed, and the run is logged as queued
   * before any worker can log it as started.
   */
  function enqueueRun(task: string, key: string | undefined, params: unknown, how: string, token?: number): Future<RunRecord> {
    const both = registry.createEnqueued(queue, task, key, params, message, token);
    if (both !== undefined) return enqueuedWithRecord(both.run, both.enqueued, how);
    const created = registry.create(task, key, params);
    if (!(created instanceof Future)) return enqueueCreated(created, how, token);
    // A shared store: the record is in it before the message is in the queue, so whichever
    // process's worker takes the message finds the record.
    return loop.createTask(async () => await enqueueCreated(await created, how, token));
  }

  /** The record written by the enqueue itself: a refused message left none, nothing to discard. */
  function enqueuedWithRecord(run: RunRecord, enqueued: Future<void>, how: string): Future<RunRecord> {
    return loop.createTask(async () => {
      try {
        await enqueued;
      } catch (err) {
        if (outcomeUnknown(err)) keep(run.id, err);
        throw err;
      }
      registry.queued(run, how);
      emit({ kind: 'queue' });
      return copyRun(run);
    });
  }

  function enqueueCreated(run: RunRecord, how: string, token: number | undefined): Future<RunRecord> {
    let enqueued: Future<void>;
    try {
      enqueued = ensureFuture<void>(queue.enqueue(message(run), token === undefined ? { key: run.key } : { key: run.key, fence: token }), loop);
    } catch (err) {
      return discardThen(run.id, err);
    }
    const finish = (): RunRecord => {
      enqueued.result(); // throws what the queue said
      registry.queued(run, how);
      emit({ kind: 'queue' });
      // A shared store's copy is a round trip away: the record as created is the answer then.
      const snap = store.kind === 'memory' ? registry.snapshot(run.id) : undefined;
      return (snap instanceof Future ? undefined : snap) ?? copyRun(run);
    };
    if (!enqueued.done()) {
      return loop.createTask(async () => {
        try {
          await enqueued;
        } catch (err) {
          if (!outcomeUnknown(err)) await discardThen(run.id, err); // throws err
          keep(run.id, err);
          throw err;
        }
        return finish();
      });
    }
    if (enqueued.cancelled() || enqueued.exception() !== null) {
      const err = enqueued.cancelled() ? null : enqueued.exception();
      if (err !== null && outcomeUnknown(err)) {
        keep(run.id, err);
        return failed(loop, err);
      }
      if (err !== null) return discardThen(run.id, err);
      registry.discard(run.id);
    }
    try {
      return settled(loop, finish());
    } catch (err) {
      return failed(loop, err);
    }
  }

  /**
   * The enqueue was sent and its answer lost (the connection dropped, a time-out): the message
   * may be in the queue, and a worker may be about to run it from this very record, so the
   * record stays (discarding it would have that worker drop the run unrun).
   */
  function keep(id: string, err: unknown): void {
    log.warn('enqueue outcome unknown, the run record is kept (its message may be queued)', err, id);
  }

  /** Forgets a run whose message the queue refused, then fails with the queue's error. */
  function discardThen<T>(id: string, err: unknown): Future<T> {
    const discarded = registry.discard(id);
    if (!(discarded instanceof Future)) return failed(loop, err);
    return loop.createTask(async () => {
      try {
        await discarded;
      } catch (e) {
        log.warn('discarding a refused run failed', e, id);
      }
      throw err;
    });
  }

  async function submitDue(item: DueItem, token: number): Promise<SubmitOutcome> {
    validateObject(item, 'due item');
    registry.task(item.task);
    const key = checkRunKey(item.key, 'due item key');
    // A cheap look first: most scans find most keys still pending.
    if (await ensureFuture<boolean>(queue.hasKey(key), loop)) return 'pending';
    try {
      await enqueueRun(item.task, key, item.params, 'scanner', token);
      return 'queued';
    } catch (err) {
      if ((err as { code?: unknown }).code === 'ERR_DUPLICATE_KEY') return 'pending';
      throw err;
    }
  }

  function toDeadLetter(entry: { id: string; message: QueueMessage; key: string; status: number; statusMessage: string; failedAt: string }): DeadLetter {
    return {
      id: entry.id,
      runId: entry.message.runId,
      task: entry.message.task,
      key: entry.key,
      status: entry.status,
      statusMessage: entry.statusMessage,
      failedAt: entry.failedAt,
    };
  }

  let stopping: Future<void> | null = null;
  let unwatch: (() => void) | null = null;

  const ops: EmbeddedTaskOps = {
    registry,
    queue,
    workers,
    scanner,
    log,

    health(): Health {
      return { status: 'ok', queue: queue.kind, scanner: scanner === null ? 'off' : scanner.state, workers: workers.running };
    },

    listTasks(): TaskInfo[] {
      return registry.listTasks();
    },

    startRun(task: string, input: { params?: unknown; key?: string }): Future<RunRecord> {
      try {
        registry.task(task);
        if (input === undefined) input = {};
        validateObject(input, 'input');
        const key = input.key === undefined ? undefined : checkRunKey(input.key);
        return enqueueRun(task, key, input.params, 'request');
      } catch (err) {
        return failed(loop, err);
      }
    },

    getRun(id: string): Future<RunRecord | undefined> {
      if (typeof id !== 'string') return settled(loop, undefined);
      const run = registry.snapshot(id);
      return run instanceof Future ? run : settled(loop, run);
    },

    listRuns(query: RunQuery): Future<{ runs: RunRecord[]; total: number }> {
      try {
        const list = registry.list(checkRunQuery(query));
        return list instanceof Future ? list : settled(loop, list);
      } catch (err) {
        return failed(loop, err);
      }
    },

    cancelRun(id: string): Future<RunRecord> {
      if (typeof id !== 'string') return failed(loop, invalidArgType('id', 'of type string', id));
      return loop.createTask(async () => {
        const run = await registry.get(id);
        if (run === undefined) throw codedError(Error, 'ERR_RUN_NOT_FOUND', `no run ${JSON.stringify(id)}`);
        if (registry.isFinished(run)) throw codedError(Error, 'ERR_RUN_FINISHED', `run ${id} has already finished (status ${run.status})`);
        const removed = await ensureFuture<boolean>(queue.remove(id), loop);
        // Running here: interrupt it. In flight elsewhere (or on its way to a worker): the record
        // says cancelled — the store's change feed tells the process running it (a shared store)
        // — and whoever gets the message acks it without running it.
        if (!removed) workers.cancelRun(id);
        const cancelled = await registry.cancelled(id, 'cancelled by request');
        if (removed) emit({ kind: 'queue' });
        // A worker recorded its verdict first (a shared store, between the look and the write).
        if (cancelled === undefined) {
          const now = await registry.get(id);
          throw codedError(Error, 'ERR_RUN_FINISHED', `run ${id} has already finished (status ${now?.status})`);
        }
        return copyRun(cancelled);
      });
    },

    queueStats(): PromiseLike<QueueStats> {
      return queue.stats();
    },

    listDeadLetters(): Future<DeadLetter[]> {
      return loop.createTask(async () => (await ensureFuture<DeadLetterEntry[]>(queue.deadLetters(), loop)).map(toDeadLetter));
    },

    retryDeadLetter(id: string): Future<RunRecord> {
      if (typeof id !== 'string') return failed(loop, invalidArgType('id', 'of type string', id));
      return loop.createTask(async () => {
        const entry = (await ensureFuture<DeadLetterEntry[]>(queue.deadLetters(), loop)).find((d) => d.id === id);
        if (entry === undefined) throw codedError(Error, 'ERR_DEAD_LETTER_NOT_FOUND', `no dead letter ${JSON.stringify(id)}`);
        const run = await registry.create(entry.message.task, entry.key, entry.message.params);
        try {
          const enqueued = ensureFuture(queue.retryDeadLetter(id, message(run)), loop);
          if (!enqueued.done()) await enqueued;
          enqueued.result();
        } catch (err) {
          await registry.discard(run.id);
          throw err;
        }
        registry.queued(run, `retry of dead letter ${id}`);
        emit({ kind: 'deadLetter' });
        emit({ kind: 'queue' });
        return copyRun((await registry.snapshot(run.id)) ?? run);
      });
    },

    onChange(listener: (change: OpsChange) => void): () => void {
      if (typeof listener !== 'function') throw invalidArgType('listener', 'of type function', listener);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    start(): void {
      if (stopping !== null) throw codedError(Error, 'ERR_STOPPED', 'this TaskOps has been stopped');
      // Other processes' changes to a shared store: cached answers drop them, and a run of ours
      // cancelled over there is interrupted here.
      if (unwatch === null && store.watch !== undefined) {
        unwatch = store.watch((change) => {
          if (change.reset === true) {
            emit({ kind: 'run' });
            emit({ kind: 'deadLetter' });
            return;
          }
          if (change.cancelled) workers.cancelRun(change.runId);
          emit({ kind: 'run', runId: change.runId, task: change.task });
          if (change.deadLettered) emit({ kind: 'deadLetter' });
        });
      }
      workers.start();
      scanner?.start();
    },

    stop(stopOptions?: StopOptions): Future<void> {
      if (stopping !== null) return stopping;
      stopping = loop.createTask(async () => {
        if (scanner !== null) await ensureFuture(scanner.stop(), loop);
        await workers.stop(stopOptions);
        if (ownQueue) await ensureFuture(queue.close(), loop);
        unwatch?.();
        unwatch = null;
        const size = registry.size;
        log.info('task operations stopped', size === undefined ? `runs kept in ${store.kind}` : `${size} runs in memory`);
      });
      return stopping;
    },
  };
  return ops;
}

// Where run records live: one interface, two stores. MemoryRunStore keeps this process's runs
// (the embedded default); RedisRunStore shares them between every process of a queue, so any
// process's GET /runs shows every run. The Registry (registry.ts) is the only caller: it logs and
// reports each change; a store only keeps records and applies transitions.
//
// What every store guarantees:
// - A transition (update) applies atomically, and never to a finished run (endedAt set): the
//   first finishing transition wins, and a later one (a worker finishing a run that was
//   cancelled meanwhile, from this process or another) changes nothing and answers undefined.
// - `attempts` is counted by the store ('start' adds one), so a run picked up again by another
//   process after its worker died continues the count.
// - Finished records are bounded (a count and, optionally, an age); the oldest go first.
// A memory store answers at once (plain values, so the embedded hot path allocates no Future);
// a networked one answers with Futures. Maybe<T> is either.
import { Future } from '../core/future';
import { Status, statusMessage } from '../util/status';
import type { DeadLetterReason, Delivery, EnqueueOptions, Queue, QueueMessage } from './queue';
import type { RunQuery, RunRecord } from './types';

export type Maybe<T> = T | Future<T>;

/** A transition. Only the fields given change (besides status, statusMessage and category). */
export interface RunPatch {
  status: number;
  /** 'start': attempts + 1, startedAt set on the first. 'finish': endedAt set; the record is final. */
  step?: 'start' | 'finish';
  /** Set with a successful finish (null for undefined). */
  result?: unknown;
  /** The failure to show; null removes it. */
  error?: { message: string; code?: string } | null;
}

/** A change made by another process, as a store sharing its records reports it. */
export interface ForeignChange {
  runId: string;
  task: string;
  /** The run was cancelled: a worker of this process running it should stop. */
  cancelled: boolean;
  /** The run went to the dead letters. */
  deadLettered: boolean;
  /** Changes may have been missed (the feed was cut): every cached answer may be stale. */
  reset?: boolean;
}

/** What begin() found: the run unknown, not to be started (finished or out of attempts), or started. */
export type BeginOutcome = { state: 'unknown' } | { state: 'refused'; run: RunRecord } | { state: 'started'; run: RunRecord };

/** What settleFinal() did: whether the queue took the outcome, and the record it wrote (undefined: it was final already). */
export interface SettledFinal {
  settled: boolean;
  run: RunRecord | undefined;
}

export interface RunStoreLimits {
  /** Finished runs kept; past it the oldest finished are dropped (default 10 000). */
  maxFinishedRuns?: number;
  /** Milliseconds a finished run is kept (default 0: no age limit, only the count). */
  maxRunAge?: number;
}

export interface RunStore {
  readonly kind: 'memory' | 'redis';
  /** Adds a new run (status init). */
  insert(run: RunRecord): Maybe<void>;
  /** Forgets a run (its message was refused by the queue). */
  discard(id: string): Maybe<void>;
  /** The record; a memory store may return its live object (the Registry copies what leaves it). */
  get(id: string): Maybe<RunRecord | undefined>;
  /** Newest first, filtered by task and status category; `total` counts every match. */
  list(query: RunQuery): Maybe<{ runs: RunRecord[]; total: number }>;
  /** Applies `patch` atomically; undefined (nothing changed) when the run is unknown or finished. */
  update(id: string, patch: RunPatch): Maybe<RunRecord | undefined>;
  /**
   * Optional, for a store on the queue's server: inserts `run` and enqueues `message` in one
   * atomic step (the record exists exactly when the message was taken). Undefined when this
   * queue cannot carry the record: then insert() and enqueue() in two steps.
   */
  insertEnqueued?(queue: Queue, run: RunRecord, message: QueueMessage, options: EnqueueOptions): Future<void> | undefined;
  /**
   * Optional, for a store on the queue's server: the record read and a 'start' transition in one
   * step, unless the run is finished or has `maxAttempts` attempts already (then 'refused', unchanged).
   */
  begin?(id: string, maxAttempts: number): Future<BeginOutcome>;
  /**
   * Optional, for a store on the queue's server: settles `delivery` (its ack, or its dead letter
   * with `reason`) and applies the final `patch` in one atomic step, only if the delivery is
   * still its message's current one. Undefined when this delivery cannot carry the record (a
   * queue elsewhere): then the caller settles and updates in two steps.
   */
  settleFinal?(delivery: Delivery, id: string, patch: RunPatch, reason?: DeadLetterReason): Future<SettledFinal> | undefined;
  /** Records held here now (a shared store: undefined, it is not this process's figure). */
  readonly size: number | undefined;
  /** Changes made by other processes; returns the unsubscribe. Stores no one else writes do not have it. */
  watch?(listener: (change: ForeignChange) => void): () => void;
  close?(): Maybe<void>;
}

/** `fn(value)` now, or once the Future is done (its failure passes through). */
export function thenMaybe<T, R>(value: Maybe<T>, fn: (v: T) => R): Maybe<R> {
  if (!(value instanceof Future)) return fn(value);
  const out = new Future<R>(value.getLoop());
  value.addDoneCallback((f) => {
    if (f.cancelled()) return void out.cancel();
    const err = f.exception();
    if (err !== null) return void out.setException(err);
    try {
      out.setResult(fn(f.result()));
    } catch (e) {
      out.setException(e);
    }
  });
  return out;
}

export function copyRun(run: RunRecord): RunRecord {
  const out: RunRecord = { ...run };
  if (run.error !== undefined) out.error = { ...run.error };
  return out;
}

/** A new queued run's record. */
export function newRunRecord(id: string, task: string, key: string, params: unknown, createdAt = new Date()): RunRecord {
  return {
    id,
    task,
    key,
    params: params === undefined ? null : params,
    status: Status.INIT,
    statusMessage: statusMessage(Status.INIT),
    category: 'init',
    attempts: 0,
    createdAt: createdAt.toISOString(),
  };
}

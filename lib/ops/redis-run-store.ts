// Run records in Redis (the layout and the scripts: redis-run-store-scripts.ts), shared by every
// process of a queue name: any process's GET /runs lists every run, newest first, with filters
// and totals answered by sorted-set indexes. Transitions are one script each, so they are atomic
// and refuse a finished run: a late writer never overwrites a newer final state. Attempts are
// counted in the record, so a run picked up again after its worker died continues the count.
//
// The change feed: each script call also appends its changes (id, task, kind, and the writer's
// origin) to a capped stream as one entry, and every process's watcher (one blocking XREAD on a
// dedicated connection) reads it. That is how a cancellation reaches the process running the
// run, and how each API's cache drops the answers another process's change affects. A stream
// rather than PUBSUB: a watcher that reconnects resumes where it stopped, and reports a reset
// (drop every cached answer) after any gap.
import { randomBytes } from 'node:crypto';
import { Future } from '../core/future';
import { createRedisClient, RedisClient, type RedisScript } from '../redis/client';
import { PassBatch } from '../redis/pass-batch';
import { Status, statusCategory, statusMessage } from '../util/status';
import { codedError, invalidArgType, invalidArgValue, validateInteger, validateMs, validateObject } from '../util/validate';
import type { DeadLetterReason, Delivery, EnqueueOptions, Queue, QueueMessage } from './queue';
import { RedisDelivery, RedisQueue } from './redis-queue';
import type { BeginOutcome, ForeignChange, RunPatch, RunStore, RunStoreLimits, SettledFinal } from './run-store';
import { thenMaybe } from './run-store';
import * as lua from './redis-run-store-scripts';
import type { RunQuery, RunRecord } from './types';

export interface RedisRunStoreOptions extends RunStoreLimits {
  /** A client to share (the queue's: `queue.client`); or `url` for a client of the store's own. */
  client?: RedisClient;
  url?: string;
  /** Processes with the same name share the records: use the queue's name (default 'default'). */
  name?: string;
  /** Change-feed entries kept in Redis (default 10 000; a watcher further behind resets its cache). */
  maxFeed?: number;
}

/** The hash fields every reply carries, in this order (the scripts' FIELDS). */
type Fields = [string | null, string | null, string | null, string | null, string | null, string | null, string | null];

function recordOf(fields: Fields | null | undefined): RunRecord | undefined {
  if (fields === null || fields === undefined || fields[0] === null || fields[0] === undefined) return undefined;
  const [base, s, a, startedAt, endedAt, result, error] = fields;
  const b = JSON.parse(base!) as { id: string; task: string; key: string; params: unknown; createdAt: string };
  const status = Number(s);
  const run: RunRecord = {
    id: b.id,
    task: b.task,
    key: b.key,
    params: b.params,
    status,
    statusMessage: statusMessage(status),
    category: statusCategory(status),
    attempts: Number(a),
    createdAt: b.createdAt,
  };
  if (result !== null) run.result = JSON.parse(result);
  if (error !== null) run.error = JSON.parse(error) as RunRecord['error'];
  if (startedAt !== null) run.startedAt = startedAt;
  if (endedAt !== null) run.endedAt = endedAt;
  return run;
}

/** JSON for a value that may not survive it (undefined, a cycle, a BigInt): what a run shows. */
function toJson(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    return json === undefined ? 'null' : json;
  } catch (err) {
    return JSON.stringify({ unserializable: String((err as Error)?.message ?? err) });
  }
}

/** The record's immutable part, written once: user data round-trips exactly. */
function baseOf(run: RunRecord): string {
  return JSON.stringify({ id: run.id, task: run.task, key: run.key, params: run.params, createdAt: run.createdAt });
}

export class RedisRunStore implements RunStore {
  readonly kind = 'redis' as const;
  readonly name: string;
  readonly client: RedisClient;
  readonly maxFinished: number;
  readonly maxAge: number;
  readonly maxFeed: number;
  /** This process's mark on the feed entries it writes (its watcher skips them). */
  readonly origin = randomBytes(8).toString('hex');
  readonly #ownClient: boolean;
  readonly #prefix: string;
  readonly #scripts = new Map<string, RedisScript>();
  readonly #listeners = new Set<(change: ForeignChange) => void>();
  #watching: Future<void> | null = null;
  // Resolved once the watcher has its starting point: changes written after it are reported.
  #ready: Future<void> | null = null;
  #abortWatch: (() => void) | null = null;
  #closed = false;
  // Starts asked for in this loop pass (workers woken by one fetch), sent together at its end
  // (PassBatch): one script run costs Redis more than a start's own writes.
  readonly #begins = new PassBatch<{ id: string; maxAttempts: number }, BeginOutcome>({
    // As for the queue's acks.
    max: 500,
    send: (begins) => {
      const args = this.#updateArgs('', { status: Status.IN_PROCESS, step: 'start' });
      for (const { id, maxAttempts } of begins) args.push(id, String(maxAttempts));
      return this.#script(lua.BEGIN).run([this.#key(begins[0]!.id)], args);
    },
    failure: (err) => err ?? codedError(Error, 'ERR_STORE_CLOSED', 'the run store is closed'),
    answer: (_, r) => {
      if (r === 0 || !Array.isArray(r)) return { state: 'unknown' };
      const run = recordOf(r[1] as Fields);
      if (run === undefined) return { state: 'unknown' };
      return r[0] === 2 ? { state: 'started', run } : { state: 'refused', run };
    },
  });

  constructor(opts: RedisRunStoreOptions = {}) {
    validateObject(opts, 'options');
    const options = opts as RedisRunStoreOptions;
    this.maxFinished = options.maxFinishedRuns === undefined ? 10_000 : validateInteger(options.maxFinishedRuns, 'options.maxFinishedRuns', 0);
    this.maxAge = options.maxRunAge === undefined ? 0 : validateMs(options.maxRunAge, 'options.maxRunAge');
    if (!Number.isFinite(this.maxAge)) throw invalidArgValue('options.maxRunAge', options.maxRunAge, 'must be a finite number of milliseconds');
    this.maxFeed = options.maxFeed === undefined ? 10_000 : validateInteger(options.maxFeed, 'options.maxFeed', 1);
    if (options.name !== undefined && (typeof options.name !== 'string' || options.name.length === 0)) {
      throw typeof options.name !== 'string' ? invalidArgType('options.name', 'of type string', options.name) : invalidArgValue('options.name', options.name, 'must not be empty');
    }
    this.name = options.name ?? 'default';
    if (options.client !== undefined) {
      if (!(options.client instanceof RedisClient)) throw invalidArgType('options.client', 'a RedisClient', options.client);
      this.client = options.client;
      this.#ownClient = false;
    } else {
      this.client = createRedisClient(options.url);
      this.#ownClient = true;
    }
    this.#prefix = `evloop:runs:{${this.name}}:`;
  }

  get size(): undefined {
    return undefined;
  }

  #run(source: string, id: string, args: ReadonlyArray<string | number>): Future<any> {
    if (this.#closed) throw codedError(Error, 'ERR_STORE_CLOSED', 'the run store is closed');
    let script = this.#scripts.get(source);
    if (script === undefined) this.#scripts.set(source, (script = this.client.defineScript(source)));
    return script.run([this.#key(id)], [this.#prefix, id, ...args]);
  }

  #key(id: string): string {
    return `${this.#prefix}r:${id}`;
  }

  insert(run: RunRecord): Future<void> {
    return thenMaybe(this.#run(lua.INSERT, run.id, [run.task, baseOf(run), this.origin, this.maxFeed]), () => undefined) as Future<void>;
  }

  insertEnqueued(queue: Queue, run: RunRecord, message: QueueMessage, options: EnqueueOptions): Future<void> | undefined {
    // Only a queue on this client under this name (the same hash tag): its enqueue script then
    // writes the record, and only if it takes the message.
    if (!(queue instanceof RedisQueue) || queue.client !== this.client || queue.name !== this.name || this.#closed) return undefined;
    return queue._enqueueRecorded(message, options, [this.#prefix, run.task, baseOf(run), this.origin, this.maxFeed]);
  }

  discard(id: string): Future<void> {
    return thenMaybe(this.#run(lua.DISCARD, id, [this.origin, this.maxFeed]), () => undefined) as Future<void>;
  }

  get(id: string): Future<RunRecord | undefined> {
    if (this.#closed) throw codedError(Error, 'ERR_STORE_CLOSED', 'the run store is closed');
    return thenMaybe(this.client.call('HMGET', this.#key(id), 'b', 's', 'a', 'st', 'en', 'res', 'err'), (f: Fields) => recordOf(f)) as Future<RunRecord | undefined>;
  }

  list(query: RunQuery): Future<{ runs: RunRecord[]; total: number }> {
    const { task, category } = query;
    const index = task !== undefined ? (category !== undefined ? `tc:${task}:${category}` : `t:${task}`) : category !== undefined ? `c:${category}` : 'all';
    if (this.#closed) throw codedError(Error, 'ERR_STORE_CLOSED', 'the run store is closed');
    let script = this.#scripts.get(lua.LIST);
    if (script === undefined) this.#scripts.set(lua.LIST, (script = this.client.defineScript(lua.LIST)));
    return thenMaybe(script.run([], [this.#prefix, index, query.offset, query.limit]), ([total, rows]: [number, Fields[]]) => {
      const runs: RunRecord[] = [];
      // A record trimmed between the index read and now cannot happen (one script), but a
      // malformed one is skipped rather than failing the whole page.
      for (const row of rows) {
        const run = recordOf(row);
        if (run !== undefined) runs.push(run);
      }
      return { runs, total: Number(total) };
    }) as Future<{ runs: RunRecord[]; total: number }>;
  }

  /** record_update's arguments (redis-run-store-scripts.ts), prefix and id first. */
  #updateArgs(id: string, patch: RunPatch): string[] {
    const now = Date.now();
    const step = patch.step ?? '';
    const result = patch.result === undefined ? '' : toJson(patch.result);
    const error = patch.error === undefined ? '' : patch.error === null ? '-' : JSON.stringify(patch.error);
    const kind = step !== 'finish' ? 'change' : patch.status === Status.CANCELLED ? 'cancel' : patch.status < 0 ? 'dead' : 'done';
    return [this.#prefix, id, String(patch.status), statusCategory(patch.status), step, new Date(now).toISOString(), String(now), result, error, this.origin, String(this.maxFeed), String(this.maxFinished), String(this.maxAge), kind];
  }

  #script(source: string): RedisScript {
    if (this.#closed) throw codedError(Error, 'ERR_STORE_CLOSED', 'the run store is closed');
    let script = this.#scripts.get(source);
    if (script === undefined) this.#scripts.set(source, (script = this.client.defineScript(source)));
    return script;
  }

  update(id: string, patch: RunPatch): Future<RunRecord | undefined> {
    return thenMaybe(this.#script(lua.UPDATE).run([this.#key(id)], this.#updateArgs(id, patch)), (f: Fields | null) => recordOf(f)) as Future<RunRecord | undefined>;
  }

  begin(id: string, maxAttempts: number): Future<BeginOutcome> {
    if (this.#closed) throw codedError(Error, 'ERR_STORE_CLOSED', 'the run store is closed');
    return this.#begins.add(this.client.loop, { id, maxAttempts });
  }

  settleFinal(delivery: Delivery, id: string, patch: RunPatch, reason?: DeadLetterReason): Future<SettledFinal> | undefined {
    // Only a delivery of a queue on this client, under this name (the same hash tag): the queue's
    // script then writes the record in the same atomic step as the acknowledgement.
    if (!(delivery instanceof RedisDelivery) || delivery._queue.client !== this.client || delivery._queue.name !== this.name) return undefined;
    // A closed store: the caller's two-step path reports it.
    if (this.#closed) return undefined;
    return thenMaybe(delivery._settleRecorded(this.#updateArgs(id, patch), reason) as Future<any>, (reply: number | Fields): SettledFinal => {
      if (reply === 0) return { settled: false, run: undefined };
      return { settled: true, run: Array.isArray(reply) ? recordOf(reply) : undefined };
    }) as Future<SettledFinal>;
  }

  /**
   * Changes other processes make, from the feed. Starts the watcher on the running loop with the
   * first listener; the last unsubscribe stops it.
   */
  watch(listener: (change: ForeignChange) => void): () => void {
    if (typeof listener !== 'function') throw invalidArgType('listener', 'of type function', listener);
    this.#listeners.add(listener);
    if (this.#watching === null && !this.#closed) this.#startWatching();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopWatching();
    };
  }

  #emit(change: ForeignChange): void {
    for (const l of this.#listeners) {
      try {
        l(change);
      } catch {
        // a listener's failure is its own (TaskOps logs its listeners' errors)
      }
    }
  }

  #startWatching(): void {
    const feed = `${this.#prefix}feed`;
    const store = this;
    let stopped = false;
    this.#abortWatch = () => {
      stopped = true;
    };
    if (this.#ready === null || this.#ready.done()) this.#ready = new Future<void>(this.client.loop);
    const task = this.client.use(async (conn) => {
      store.#abortWatch = () => {
        stopped = true;
        conn.abort();
      };
      const last = (await conn.call('XREVRANGE', feed, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
      let from = last.length > 0 ? last[0]![0] : '0-0';
      if (store.#ready !== null && !store.#ready.done()) store.#ready.setResult(undefined);
      while (!stopped) {
        const reply = (await conn.call('XREAD', 'COUNT', 1000, 'BLOCK', 1000, 'STREAMS', feed, from)) as Array<[string, Array<[string, string[]]>]> | null;
        if (reply === null || stopped) continue;
        for (const [entryId, list] of reply[0]![1]) {
          from = entryId;
          if (list[0] === 'o') {
            // One script call's changes: o (origin), then per change its id and "kind task".
            if (list[1] === store.origin) continue;
            for (let i = 2; i + 1 < list.length; i += 2) {
              const v = list[i + 1]!;
              const sp = v.indexOf(' ');
              const kind = sp < 0 ? v : v.slice(0, sp);
              store.#emit({ runId: list[i]!, task: sp < 0 ? '' : v.slice(sp + 1), cancelled: kind === 'cancel', deadLettered: kind === 'dead' });
            }
            continue;
          }
          // An entry of an earlier version: id, t, o and k, one change.
          const f: Record<string, string> = {};
          for (let i = 0; i + 1 < list.length; i += 2) f[list[i]!] = list[i + 1]!;
          if (f.o === store.origin || f.id === undefined) continue;
          store.#emit({ runId: f.id, task: f.t ?? '', cancelled: f.k === 'cancel', deadLettered: f.k === 'dead' });
        }
      }
    });
    this.#watching = task as unknown as Future<void>;
    task.addDoneCallback(() => {
      if (!task.cancelled()) task.exception(); // retrieved: an aborted or lost connection is expected here
      this.#watching = null;
      this.#abortWatch = null;
      if (stopped || this.#closed || this.#listeners.size === 0) return;
      // The connection (or Redis) went away: changes may have been missed while it was down.
      task.getLoop().callLater(100, () => {
        if (this.#watching !== null || this.#closed || this.#listeners.size === 0) return;
        this.#emit({ runId: '', task: '', cancelled: false, deadLettered: false, reset: true });
        this.#startWatching();
      });
    });
  }

  /**
   * Resolves once the watcher reads the feed: every change written after that is reported (for
   * programs and tests that must not miss the first one). Resolved at once when not watching.
   */
  watching(): Future<void> {
    if (this.#ready !== null) return this.#ready;
    const done = new Future<void>(this.client.loop);
    done.setResult(undefined);
    return done;
  }

  #stopWatching(): void {
    this.#abortWatch?.();
  }

  /** Stops the watcher; a client of the store's own is closed. Records stay in Redis. */
  close(): Future<void> | void {
    if (this.#closed) return;
    // Starts asked for before close() still go out.
    this.#begins.flush();
    this.#closed = true;
    this.#listeners.clear();
    this.#stopWatching();
    if (this.#ownClient) return this.client.close();
  }
}

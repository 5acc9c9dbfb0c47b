// The Queue contract (queue.ts) on Redis: a stream with a consumer group per queue, so every
// process with the same queue name shares it. The guard, the fencing check, acknowledgement
// (by the delivery's current owner only), retries, the delay set and the dead letters are Lua
// scripts (redis-queue-scripts.ts), each atomic in Redis. Consumers in this process are served
// in arrival order by one fetch loop: it moves due delayed messages to the stream, claims
// deliveries idle past the visibility time-out (XAUTOCLAIM), and reads (XREADGROUP) as many
// messages as there are consumers waiting — on the shared connection while the stream has
// some, blocking on a dedicated connection when it is empty. The acks of one loop pass go to
// Redis as one script call, and so do its enqueues: a script call costs Redis more than most
// of what one message asks of it.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Future } from '../core/future';
import type { EventLoop } from '../core/loop';
import { getRunningLoop } from '../core/running';
import { createRedisClient, RedisClient, type DedicatedConnection, type RedisScript } from '../redis/client';
import { PassBatch, type Batched } from '../redis/pass-batch';
import { RedisError } from '../util/errors';
import { codedError, invalidArgType, invalidArgValue, validateInteger, validateMs, validateObject } from '../util/validate';
import type { DeadLetterEntry, DeadLetterReason, Delivery, EnqueueOptions, NackOptions, Queue, QueueMessage, QueueStatsSnapshot } from './queue';
import * as lua from './redis-queue-scripts';

export interface RedisQueueOptions {
  /** A client to share; or `url` for a client of the queue's own (closed with it). */
  client?: RedisClient;
  url?: string;
  /** Processes with the same name share the queue (default 'default'). */
  name?: string;
  /** Milliseconds a delivery stays with its consumer without extend() (default 30 000). */
  visibilityTimeout?: number;
  /** Dead letters kept; past it the oldest is dropped (default 10 000). */
  maxDeadLetters?: number;
  /** This process's consumer name in the group (default host:pid:random). */
  consumer?: string;
}

type Fields = string[];

/** An acknowledgement waiting for its pass's script call. */
interface Ack {
  readonly d: RedisDelivery;
  readonly record: string[] | null;
  readonly since: number;
}

function fieldsOf(list: Fields): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < list.length; i += 2) out[list[i]!] = list[i + 1]!;
  return out;
}

function checkKey(key: unknown, name: string): string {
  if (typeof key !== 'string') throw invalidArgType(name, 'of type string', key);
  if (key.length === 0) throw invalidArgValue(name, key, 'must not be empty');
  return key;
}

function checkDelay(value: unknown, name: string): number {
  const ms = validateMs(value, name);
  if (!Number.isFinite(ms)) throw invalidArgValue(name, value, 'must be a finite number of milliseconds');
  return ms;
}

function checkMessage(message: unknown): QueueMessage {
  validateObject(message, 'message');
  checkKey(message.runId, 'message.runId');
  checkKey(message.task, 'message.task');
  return message as unknown as QueueMessage;
}

/** Redis's refusals from the scripts, as the contract's errors. */
function translate(err: unknown): unknown {
  if (!(err instanceof RedisError)) return err;
  const rest = err.message.slice(err.code.length + 1);
  switch (err.code) {
    case 'DUPKEY':
      return codedError(Error, 'ERR_DUPLICATE_KEY', `a run with key ${JSON.stringify(rest)} is already queued or running`);
    case 'DUPRUN':
      return invalidArgValue('message.runId', rest, 'is already in the queue');
    case 'DLNOTFOUND':
      return codedError(Error, 'ERR_DEAD_LETTER_NOT_FOUND', `no dead letter ${JSON.stringify(rest)}`);
    case 'FENCED':
      return codedError(Error, 'ERR_FENCED', err.message.slice(7));
    default:
      return err;
  }
}

export class RedisDelivery implements Delivery {
  readonly id: string;
  readonly message: QueueMessage;
  readonly key: string;
  readonly deliveries: number;
  /** @internal */ readonly _entry: string;
  /** @internal */ readonly _count: number;
  /** @internal The entry's runId field (the message's, as the queue indexes it). */
  readonly _runId: string;
  readonly #queue: RedisQueue;

  constructor(queue: RedisQueue, entry: string, fields: Record<string, string>, count: number) {
    this.#queue = queue;
    this._entry = entry;
    this._count = count;
    this.message = JSON.parse(fields.m!) as QueueMessage;
    this.key = fields.k!;
    this._runId = fields.r ?? this.message.runId;
    this.deliveries = Number(fields.d) + count;
    this.id = `${entry}:${count}`;
  }

  /** @internal */ get _queue(): RedisQueue {
    return this.#queue;
  }

  ack(): Future<boolean> {
    return this.#queue._ack(this);
  }

  /**
   * @internal The ack (or the dead letter, with `reason`) and the run's final record in one
   * script (RedisRunStore.settleFinal): the raw reply, 0 when refused.
   */
  _settleRecorded(record: string[], reason?: DeadLetterReason): Future<number | Array<string | null>> {
    if (reason === undefined) return this.#queue._ack(this, record) as Future<any>;
    return this.#queue._settleRaw(this, lua.DEAD_LETTER, [reason.status, reason.statusMessage, new Date().toISOString(), this.#queue.maxDeadLetters, ...record]);
  }

  nack(options?: NackOptions): Future<boolean> {
    let delay = 0;
    if (options !== undefined) {
      validateObject(options, 'options');
      if (options.delay !== undefined) delay = checkDelay(options.delay, 'options.delay');
    }
    if (delay > 0) this.#queue._dueIn(delay);
    return this.#queue._settle(this, lua.NACK, [Math.ceil(delay)]);
  }

  deadLetter(reason: DeadLetterReason): Future<boolean> {
    validateObject(reason, 'reason');
    validateInteger(reason.status, 'reason.status', -999, 999);
    if (typeof reason.statusMessage !== 'string') throw invalidArgType('reason.statusMessage', 'of type string', reason.statusMessage);
    return this.#queue._settle(this, lua.DEAD_LETTER, [reason.status, reason.statusMessage, new Date().toISOString(), this.#queue.maxDeadLetters]);
  }

  extend(): Future<boolean> {
    return this.#queue._settle(this, lua.EXTEND, []);
  }
}

export class RedisQueue implements Queue {
  readonly kind = 'redis' as const;
  readonly visibilityTimeout: number;
  readonly maxDeadLetters: number;
  readonly name: string;
  readonly consumer: string;
  readonly client: RedisClient;
  readonly #ownClient: boolean;
  readonly #keys: string[];
  readonly #scripts: Record<string, RedisScript> = {};
  #loop: EventLoop | null = null;
  #closed = false;
  readonly #waiters = new Set<Future<Delivery>>();
  // Fetched for consumers that were cancelled meanwhile: the next consume gets them first.
  #buffer: RedisDelivery[] = [];
  #fetching = false;
  #fetchConn: DedicatedConnection | null = null;
  // loop.time() at which the fetch loop next runs the fetch script.
  #nextFetch = 0;
  // Acks asked for in this loop pass, sent together at its end (PassBatch): consumers woken by one
  // fetch finish together. `record`: the run's final record's arguments, written by the same
  // script (null for none; then the answer is a boolean). `since`: loop.time() of the first try
  // (an ack lost with its connection is tried again).
  readonly #acks = new PassBatch<Ack, any>({
    // Lua's unpack and Redis's argument lists stay small.
    max: 500,
    send: (acks) => {
      const args: Array<string | number> = [this.consumer];
      for (const { d, record } of acks) {
        if (record === null) args.push(d._entry, d._count, d._runId, d.key, 0);
        else args.push(d._entry, d._count, d._runId, d.key, record.length, ...record);
      }
      return this.#run(lua.ACK, args);
    },
    failure: (err) => (err === null ? this.#closedError() : translate(err)),
    answer: ({ record }, ok) => (record === null ? ok === 1 : ok),
    retry: (batch, err) => this.#retryAcks(batch, err),
  });
  // Enqueues asked for in this loop pass, sent together at its end (as acks are): a burst of
  // startRun calls costs Redis one script run, not one each. An item is the message's arguments
  // of the enqueue script.
  readonly #enqueues = new PassBatch<Array<string | number>, void>({
    // A script holds Redis for its whole run, and past a hundred the call's own cost per
    // message is small already.
    max: 100,
    send: (enqueues) => {
      const args: Array<string | number> = [];
      for (const e of enqueues) args.push(e.length, ...e);
      return this.#run(lua.ENQUEUE, args);
    },
    failure: (err) => (err === null ? this.#closedError() : translate(err)),
    // A refusal is an error reply inside the array: this message's alone.
    answer: (_, r) => {
      if (r instanceof RedisError) throw translate(r);
    },
  });

  constructor(opts: RedisQueueOptions = {}) {
    validateObject(opts, 'options');
    const options = opts as RedisQueueOptions;
    this.visibilityTimeout = options.visibilityTimeout === undefined ? 30_000 : checkDelay(options.visibilityTimeout, 'options.visibilityTimeout');
    if (this.visibilityTimeout <= 0) throw invalidArgValue('options.visibilityTimeout', options.visibilityTimeout, 'must be > 0');
    this.maxDeadLetters = options.maxDeadLetters === undefined ? 10_000 : validateInteger(options.maxDeadLetters, 'options.maxDeadLetters', 0);
    this.name = options.name === undefined ? 'default' : checkKey(options.name, 'options.name');
    this.consumer = options.consumer === undefined ? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}` : checkKey(options.consumer, 'options.consumer');
    if (options.client !== undefined) {
      if (!(options.client instanceof RedisClient)) {
        throw invalidArgType('options.client', 'a RedisClient', options.client);
      }
      this.client = options.client;
      this.#ownClient = false;
    } else {
      this.client = createRedisClient(options.url);
      this.#ownClient = true;
    }
    const base = `evloop:queue:{${this.name}}:`;
    this.#keys = ['stream', 'keys', 'msgs', 'delayed', 'dead', 'fence', 'eids'].map((k) => base + k);
  }

  /** The Redis key of the scanner lease's fencing token (the scanner raises it with each lease). */
  get fenceKey(): string {
    return this.#keys[5]!;
  }

  #bind(): EventLoop {
    const running = getRunningLoop();
    if (this.#loop === null) this.#loop = running;
    else if (this.#loop !== running) throw codedError(Error, 'ERR_DIFFERENT_LOOP', 'RedisQueue is bound to a different event loop');
    return this.#loop;
  }

  #closedError(): Error {
    return codedError(Error, 'ERR_QUEUE_CLOSED', 'the queue is closed');
  }

  #failed<T>(loop: EventLoop, err: unknown): Future<T> {
    const f = loop.createFuture<T>();
    f.setException(err);
    return f;
  }

  #run(script: string, args: ReadonlyArray<string | number>): Future<any> {
    const s = (this.#scripts[script] ??= this.client.defineScript(script));
    return s.run(this.#keys, args);
  }

  /** Settles a new Future with `map(reply)` (or the translated error) of `source`. */
  #then<T>(loop: EventLoop, source: Future<any>, map: (v: any) => T): Future<T> {
    const out = loop.createFuture<T>();
    source.addDoneCallback((f) => {
      if (out.done()) return;
      if (f.cancelled()) return void out.cancel();
      const err = f.exception();
      if (err !== null) return out.setException(translate(err));
      try {
        out.setResult(map(f.result()));
      } catch (e) {
        out.setException(e);
      }
    });
    return out;
  }

  enqueue(message: QueueMessage, options: EnqueueOptions): Future<void> {
    return this._enqueueRecorded(message, options, undefined);
  }

  /**
   * @internal enqueue(), with the run's new record written by the same script when `record`
   * is given (RedisRunStore.insertEnqueued: record_insert's arguments after the id).
   */
  _enqueueRecorded(message: QueueMessage, options: EnqueueOptions, record: ReadonlyArray<string | number> | undefined): Future<void> {
    const loop = this.#bind();
    checkMessage(message);
    validateObject(options, 'options');
    const key = checkKey(options.key, 'options.key');
    const delay = options.delay === undefined ? 0 : checkDelay(options.delay, 'options.delay');
    const fence = options.fence === undefined ? '' : validateInteger(options.fence, 'options.fence', 0);
    if (this.#closed) return this.#failed(loop, this.#closedError());
    const json = JSON.stringify(message);
    if (delay > 0) this._dueIn(delay);
    const args: Array<string | number> = [message.runId, json, key, Math.ceil(delay), fence];
    if (record !== undefined) args.push(...record);
    return this.#enqueues.add(loop, args);
  }

  consume(): Future<Delivery> {
    const loop = this.#bind();
    if (this.#closed) return this.#failed(loop, this.#closedError());
    const waiter = loop.createFuture<Delivery>();
    const buffered = this.#buffer.shift();
    if (buffered !== undefined) {
      waiter.setResult(buffered);
      return waiter;
    }
    this.#waiters.add(waiter);
    // A cancelled wait leaves at once: nothing is taken for it.
    waiter.addDoneCallback(() => this.#waiters.delete(waiter));
    if (!this.#fetching) this.#startFetching();
    return waiter;
  }

  #liveWaiters(): number {
    let n = 0;
    for (const w of this.#waiters) if (!w.done()) n++;
    return n;
  }

  #handOut(d: RedisDelivery): void {
    for (const w of this.#waiters) {
      this.#waiters.delete(w);
      if (w.done()) continue;
      w.setResult(d);
      return;
    }
    this.#buffer.push(d);
  }

  #startFetching(): void {
    this.#fetching = true;
    const queue = this;
    const loop = this.#loop!;
    const stream = this.#keys[0]!;
    type ReadReply = Array<[string, Array<[string, Fields]>]> | null;
    const task = loop.createTask(async () => {
      // The fetch script (due delayed messages, expired deliveries) runs every `period` ms and
      // when a delayed message falls due; in between, XREADGROUP alone.
      const period = Math.max(5, Math.min(1000, Math.ceil(queue.visibilityTimeout / 4)));
      while (!queue.#closed) {
        let wanted = queue.#liveWaiters();
        if (wanted === 0) return;
        const now = loop.time();
        if (now >= queue.#nextFetch) {
          const [claimed, nextDue] = (await queue.#run(lua.FETCH, [queue.consumer, Math.ceil(queue.visibilityTimeout), wanted])) as [Array<[string, Fields, number]>, number];
          if (queue.#closed) return;
          queue.#nextFetch = now + (nextDue >= 0 ? Math.min(period, nextDue) : period);
          for (const [id, fields, count] of claimed) queue.#handOut(new RedisDelivery(queue, id, fieldsOf(fields), count));
          if (claimed.length !== 0) continue;
        }
        // First without blocking, on the shared connection: while the stream has messages, the
        // read goes out in the same write as this pass's acks and comes back in the same read.
        let reply = (await queue.client.call('XREADGROUP', 'GROUP', 'workers', queue.consumer, 'COUNT', wanted, 'STREAMS', stream, '>')) as ReadReply;
        if (reply === null && !queue.#closed) {
          wanted = queue.#liveWaiters();
          if (wanted === 0) return;
          // Nothing there: wait on a connection of our own. Short blocks: a delayed message
          // placed by this process meanwhile is seen in time.
          const block = Math.max(1, Math.min(100, Math.ceil(queue.#nextFetch - loop.time())));
          reply = (await queue.client.use((conn) => {
            queue.#fetchConn = conn;
            return conn.call('XREADGROUP', 'GROUP', 'workers', queue.consumer, 'COUNT', wanted, 'BLOCK', block, 'STREAMS', stream, '>');
          })) as ReadReply;
          queue.#fetchConn = null;
        }
        if (reply === null || queue.#closed) continue;
        for (const [id, fields] of reply[0]![1]) queue.#handOut(new RedisDelivery(queue, id, fieldsOf(fields), 1));
      }
    });
    task.addDoneCallback(() => {
      this.#fetching = false;
      this.#fetchConn = null;
      if (this.#closed) return;
      const err = task.cancelled() ? null : task.exception();
      if (err !== null && err !== undefined) {
        // Redis went away: fail nobody (they are waiting for a message, not for Redis) and try
        // again shortly while someone waits, with the fetch script first (it makes the group
        // again, should the server have lost it).
        this.#nextFetch = 0;
        this.#loop!.callLater(100, () => {
          if (!this.#closed && !this.#fetching && this.#liveWaiters() > 0) this.#startFetching();
        });
      } else if (this.#liveWaiters() > 0) {
        this.#startFetching();
      }
    });
  }

  hasKey(key: string): Future<boolean> {
    const loop = this.#bind();
    checkKey(key, 'key');
    return this.#then(loop, this.client.call('HEXISTS', this.#keys[1]!, key), (v) => v === 1);
  }

  remove(runId: string): Future<boolean> {
    const loop = this.#bind();
    checkKey(runId, 'runId');
    return this.#then(loop, this.#run(lua.REMOVE, [runId]), (v) => v === 1);
  }

  stats(): Future<QueueStatsSnapshot> {
    const loop = this.#bind();
    return this.#then(loop, this.#run(lua.STATS, []), ([depth, inFlight, delayed, deadLetters]: number[]) => ({
      depth: depth!,
      inFlight: inFlight!,
      delayed: delayed!,
      deadLetters: deadLetters!,
    }));
  }

  deadLetters(): Future<DeadLetterEntry[]> {
    const loop = this.#bind();
    return this.#then(loop, this.client.call('XRANGE', this.#keys[4]!, '-', '+'), (entries: Array<[string, Fields]>) =>
      entries.map(([id, list]) => {
        const f = fieldsOf(list);
        return { id, message: JSON.parse(f.m!) as QueueMessage, key: f.k!, status: Number(f.s), statusMessage: f.sm!, failedAt: f.t! };
      }),
    );
  }

  retryDeadLetter(id: string, message: QueueMessage): Future<void> {
    const loop = this.#bind();
    checkKey(id, 'id');
    checkMessage(message);
    if (this.#closed) return this.#failed(loop, this.#closedError());
    return this.#then(loop, this.#run(lua.RETRY_DEAD_LETTER, [id, message.runId, JSON.stringify(message)]), () => undefined);
  }

  /** @internal A delayed message placed by this process falls due in `ms`: fetch then. */
  _dueIn(ms: number): void {
    const at = this.#bind().time() + ms;
    if (at < this.#nextFetch) this.#nextFetch = at;
  }

  /** @internal ack: refused (false) unless the delivery is still the entry's current one. */
  _ack(d: RedisDelivery, record: string[] | null = null): Future<boolean> {
    const loop = this.#bind();
    return this.#acks.add(loop, { d, record, since: loop.time() });
  }

  /**
   * Acks whose connection was lost (or could not be opened) go again once Redis is back, while
   * their deliveries may still be theirs (within the visibility time-out): a run that finished is
   * then not run again after an outage. Safe to repeat: the script checks ownership, so an ack
   * that did reach Redis the first time is refused (false) the second. True when retried.
   */
  #retryAcks(batch: ReadonlyArray<Batched<Ack, any>>, err: unknown): boolean {
    if (this.#closed || err instanceof RedisError || (err as { code?: unknown }).code === 'ERR_REDIS_CLOSED') return false;
    const loop = this.#loop!;
    const live = batch.filter((a) => !a.out.done() && loop.time() - a.item.since < this.visibilityTimeout);
    if (live.length === 0) return false;
    for (const a of batch) if (!live.includes(a) && !a.out.done()) a.out.setException(err);
    loop.callLater(100, () => {
      if (this.#closed) {
        for (const a of live) if (!a.out.done()) a.out.setException(err);
        return;
      }
      this.#acks.readd(loop, live);
    });
    return true;
  }

  /** @internal nack / deadLetter / extend: refused (false) unless the delivery is still the entry's current one. */
  _settle(d: RedisDelivery, script: string, extra: ReadonlyArray<string | number>): Future<boolean> {
    const loop = this.#bind();
    return this.#then(loop, this.#run(script, [d._entry, this.consumer, d._count, ...extra]), (v) => v === 1);
  }

  /** @internal As _settle, with the script's reply as it is. */
  _settleRaw(d: RedisDelivery, script: string, extra: ReadonlyArray<string | number>): Future<any> {
    const loop = this.#bind();
    return this.#then(loop, this.#run(script, [d._entry, this.consumer, d._count, ...extra]), (v) => v);
  }

  close(): Future<void> {
    const loop = this.#bind();
    const done = loop.createFuture<void>();
    if (this.#closed) {
      done.setResult(undefined);
      return done;
    }
    this.#closed = true;
    // Enqueues and acks asked for before close() still go out (and are answered before the client closes).
    this.#enqueues.flush();
    this.#acks.flush();
    const err = this.#closedError();
    for (const w of [...this.#waiters]) if (!w.done()) w.setException(err);
    this.#waiters.clear();
    // Deliveries fetched but never handed out stay pending in Redis: after the visibility
    // time-out another consumer gets them.
    this.#buffer = [];
    this.#fetchConn?.abort();
    if (this.#ownClient) return this.client.close();
    done.setResult(undefined);
    return done;
  }
}

// The embedded queue: the Queue contract (queue.ts) in the memory of one process, on the
// running evloop loop's timers. Every operation is synchronous inside, so "refuse a second
// message with the same key" is atomic by construction; the Futures it returns are already
// settled. It lives and dies with the process: durability is the Redis queue's job.
import { Future } from '../core/future';
import { getRunningLoop, type EventLoop } from '../core/loop';
import type { TimerHandle } from '../core/handles';
import { codedError, invalidArgType, invalidArgValue, validateInteger, validateMs, validateObject } from '../util/validate';
import type { DeadLetterEntry, DeadLetterReason, Delivery, EnqueueOptions, NackOptions, Queue, QueueMessage, QueueStatsSnapshot } from './queue';

export interface MemoryQueueOptions {
  /** Milliseconds a delivery stays with its consumer without extend() (default 30 000). */
  visibilityTimeout?: number;
  /** Dead letters kept; past it the oldest is dropped (default 10 000). */
  maxDeadLetters?: number;
}

type EntryState = 'ready' | 'delayed' | 'inFlight' | 'gone';

interface Entry {
  message: QueueMessage;
  key: string;
  state: EntryState;
  deliveries: number;
  /** The live delivery while in flight; a stale one no longer matches. */
  delivery: MemoryDelivery | null;
  /** loop.time() past which an in-flight delivery goes back to the queue. */
  deadline: number;
  timer: TimerHandle | null;
}

/** FIFO with O(1) push, shift and (for redeliveries) unshift; removed entries are skipped lazily. */
class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  unshift(x: T): void {
    if (this.head > 0) this.items[--this.head] = x;
    else this.items.unshift(x);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

function settled<T>(loop: EventLoop, value: T): Future<T> {
  const f = new Future<T>(loop);
  f.setResult(value);
  return f;
}

function failed<T>(loop: EventLoop, err: unknown): Future<T> {
  const f = new Future<T>(loop);
  f.setException(err);
  return f;
}

class MemoryDelivery implements Delivery {
  readonly id: string;
  readonly message: QueueMessage;
  readonly key: string;
  readonly deliveries: number;
  constructor(
    private readonly queue: MemoryQueue,
    /** @internal */ readonly _entry: Entry,
  ) {
    this.message = _entry.message;
    this.key = _entry.key;
    this.deliveries = _entry.deliveries;
    this.id = `${_entry.message.runId}:${_entry.deliveries}`;
  }
  ack(): Future<boolean> {
    return this.queue._settle(this, 'ack');
  }
  nack(options?: NackOptions): Future<boolean> {
    let delay = 0;
    if (options !== undefined) {
      validateObject(options, 'options');
      if (options.delay !== undefined) delay = checkDelay(options.delay, 'options.delay');
    }
    return this.queue._settle(this, 'nack', delay);
  }
  deadLetter(reason: DeadLetterReason): Future<boolean> {
    validateObject(reason, 'reason');
    validateInteger(reason.status, 'reason.status', -999, 999);
    if (typeof reason.statusMessage !== 'string') throw invalidArgType('reason.statusMessage', 'of type string', reason.statusMessage);
    return this.queue._settle(this, 'deadLetter', 0, reason);
  }
  extend(): Future<boolean> {
    return this.queue._settle(this, 'extend');
  }
}

function checkDelay(value: unknown, name: string): number {
  const ms = validateMs(value, name);
  if (!Number.isFinite(ms)) throw invalidArgValue(name, value, 'must be a finite number of milliseconds');
  return ms;
}

function checkKey(key: unknown, name: string): string {
  if (typeof key !== 'string') throw invalidArgType(name, 'of type string', key);
  if (key.length === 0) throw invalidArgValue(name, key, 'must not be empty');
  return key;
}

function checkMessage(message: unknown): QueueMessage {
  validateObject(message, 'message');
  checkKey(message.runId, 'message.runId');
  checkKey(message.task, 'message.task');
  return message as unknown as QueueMessage;
}

export class MemoryQueue implements Queue {
  readonly kind = 'memory' as const;
  readonly visibilityTimeout: number;
  private readonly maxDeadLetters: number;
  private loop: EventLoop | null = null;
  private closed = false;
  private readonly ready = new Deque<Entry>();
  private readyCount = 0;
  private delayedCount = 0;
  /** In flight, in deadline order: every deadline is "now + visibilityTimeout", and extend re-inserts at the end. */
  private readonly inFlight = new Map<Entry, true>();
  private sweepTimer: TimerHandle | null = null;
  private readonly byRunId = new Map<string, Entry>();
  private readonly keys = new Map<string, Entry>();
  private readonly waiters = new Set<Future<Delivery>>();
  private readonly dead = new Map<string, DeadLetterEntry>();

  constructor(options: MemoryQueueOptions = {}) {
    validateObject(options, 'options');
    this.visibilityTimeout = options.visibilityTimeout === undefined ? 30_000 : checkDelay(options.visibilityTimeout, 'options.visibilityTimeout');
    if (this.visibilityTimeout <= 0) throw invalidArgValue('options.visibilityTimeout', options.visibilityTimeout, 'must be > 0');
    this.maxDeadLetters = options.maxDeadLetters === undefined ? 10_000 : validateInteger(options.maxDeadLetters, 'options.maxDeadLetters', 0);
  }

  /** Binds to the running loop on first use, as the sync primitives do. */
  private bind(): EventLoop {
    const running = getRunningLoop();
    if (this.loop === null) this.loop = running;
    else if (this.loop !== running) throw codedError(Error, 'ERR_DIFFERENT_LOOP', 'MemoryQueue is bound to a different event loop');
    return this.loop;
  }

  private closedError(): Error {
    return codedError(Error, 'ERR_QUEUE_CLOSED', 'the queue is closed');
  }

  enqueue(message: QueueMessage, options: EnqueueOptions): Future<void> {
    const loop = this.bind();
    checkMessage(message);
    validateObject(options, 'options');
    const key = checkKey(options.key, 'options.key');
    const delay = options.delay === undefined ? 0 : checkDelay(options.delay, 'options.delay');
    if (options.fence !== undefined) validateInteger(options.fence, 'options.fence', 0);
    if (this.closed) return failed(loop, this.closedError());
    if (this.keys.has(key)) return failed(loop, duplicateKey(key));
    if (this.byRunId.has(message.runId)) {
      return failed(loop, invalidArgValue('message.runId', message.runId, 'is already in the queue'));
    }
    const entry: Entry = { message, key, state: 'ready', deliveries: 0, delivery: null, deadline: 0, timer: null };
    this.keys.set(key, entry);
    this.byRunId.set(message.runId, entry);
    this.place(entry, delay);
    return settled(loop, undefined);
  }

  consume(): Future<Delivery> {
    const loop = this.bind();
    if (this.closed) return failed(loop, this.closedError());
    const waiter = new Future<Delivery>(loop);
    const entry = this.nextReady();
    if (entry !== undefined) {
      waiter.setResult(this.handOut(entry));
      return waiter;
    }
    this.waiters.add(waiter);
    // A cancelled wait leaves the set at once: nothing was taken for it.
    waiter.addDoneCallback(() => this.waiters.delete(waiter));
    return waiter;
  }

  hasKey(key: string): Future<boolean> {
    const loop = this.bind();
    checkKey(key, 'key');
    return settled(loop, this.keys.has(key));
  }

  remove(runId: string): Future<boolean> {
    const loop = this.bind();
    checkKey(runId, 'runId');
    const entry = this.byRunId.get(runId);
    if (entry === undefined || entry.state === 'inFlight') return settled(loop, false);
    this.unplace(entry);
    this.drop(entry);
    return settled(loop, true);
  }

  stats(): Future<QueueStatsSnapshot> {
    const loop = this.bind();
    return settled(loop, this.statsNow());
  }

  /** The same numbers as stats(), synchronously (the embedded TaskOps and the bench use it). */
  statsNow(): QueueStatsSnapshot {
    return { depth: this.readyCount, inFlight: this.inFlight.size, delayed: this.delayedCount, deadLetters: this.dead.size };
  }

  deadLetters(): Future<DeadLetterEntry[]> {
    const loop = this.bind();
    return settled(loop, [...this.dead.values()].map((d) => ({ ...d })));
  }

  retryDeadLetter(id: string, message: QueueMessage): Future<void> {
    const loop = this.bind();
    checkKey(id, 'id');
    checkMessage(message);
    if (this.closed) return failed(loop, this.closedError());
    const dl = this.dead.get(id);
    if (dl === undefined) return failed(loop, codedError(Error, 'ERR_DEAD_LETTER_NOT_FOUND', `no dead letter ${JSON.stringify(id)}`));
    if (this.keys.has(dl.key)) return failed(loop, duplicateKey(dl.key));
    if (this.byRunId.has(message.runId)) {
      return failed(loop, invalidArgValue('message.runId', message.runId, 'is already in the queue'));
    }
    this.dead.delete(id);
    const entry: Entry = { message, key: dl.key, state: 'ready', deliveries: 0, delivery: null, deadline: 0, timer: null };
    this.keys.set(dl.key, entry);
    this.byRunId.set(message.runId, entry);
    this.place(entry, 0);
    return settled(loop, undefined);
  }

  close(): Future<void> {
    const loop = this.bind();
    if (!this.closed) {
      this.closed = true;
      const err = this.closedError();
      for (const w of [...this.waiters]) if (!w.done()) w.setException(err);
      this.waiters.clear();
      for (const entry of this.byRunId.values()) {
        if (entry.timer !== null) entry.timer.cancel();
        entry.timer = null;
      }
      if (this.sweepTimer !== null) this.sweepTimer.cancel();
      this.sweepTimer = null;
    }
    return settled(loop, undefined);
  }

  /** @internal ack / nack / deadLetter / extend of a delivery. */
  _settle(delivery: MemoryDelivery, op: 'ack' | 'nack' | 'deadLetter' | 'extend', delay = 0, reason?: DeadLetterReason): Future<boolean> {
    const loop = this.bind();
    const entry = delivery._entry;
    if (entry.delivery !== delivery || entry.state !== 'inFlight') return settled(loop, false);
    if (op === 'extend') {
      if (this.closed) return settled(loop, false);
      this.inFlight.delete(entry);
      entry.deadline = loop.time() + this.visibilityTimeout;
      this.inFlight.set(entry, true);
      return settled(loop, true);
    }
    this.inFlight.delete(entry);
    entry.delivery = null;
    if (op === 'nack') {
      this.place(entry, this.closed ? 0 : delay);
    } else {
      if (op === 'deadLetter') this.addDeadLetter(entry, reason!);
      entry.state = 'gone';
      this.drop(entry);
    }
    return settled(loop, true);
  }

  // ---- internals ----

  private place(entry: Entry, delay: number): void {
    if (delay > 0) {
      entry.state = 'delayed';
      this.delayedCount++;
      entry.timer = this.loop!.callLater(delay, this.onDelayDone, entry);
      return;
    }
    entry.state = 'ready';
    this.readyCount++;
    this.ready.push(entry);
    this.dispatch();
  }

  private unplace(entry: Entry): void {
    if (entry.state === 'delayed') {
      this.delayedCount--;
      entry.timer?.cancel();
      entry.timer = null;
    } else if (entry.state === 'ready') {
      this.readyCount--; // the deque skips it when it comes up
    }
    entry.state = 'gone';
  }

  private drop(entry: Entry): void {
    this.byRunId.delete(entry.message.runId);
    if (this.keys.get(entry.key) === entry) this.keys.delete(entry.key);
  }

  private readonly onDelayDone = (entry: Entry): void => {
    entry.timer = null;
    if (entry.state !== 'delayed') return;
    this.delayedCount--;
    this.place(entry, 0);
  };

  private nextReady(): Entry | undefined {
    while (this.readyCount > 0) {
      const e = this.ready.shift()!;
      if (e.state === 'ready') {
        this.readyCount--;
        return e;
      }
    }
    // Only skipped (removed) entries could be left.
    if (this.ready.length !== 0) this.ready.clear();
    return undefined;
  }

  private dispatch(): void {
    if (this.waiters.size === 0 || this.closed) return;
    for (const waiter of this.waiters) {
      this.waiters.delete(waiter);
      if (waiter.done()) continue;
      const entry = this.nextReady();
      if (entry === undefined) {
        this.waiters.add(waiter); // back at the end; it was the only candidate left anyway
        return;
      }
      waiter.setResult(this.handOut(entry));
      if (this.readyCount === 0) return;
    }
  }

  private handOut(entry: Entry): MemoryDelivery {
    entry.state = 'inFlight';
    entry.deliveries++;
    const delivery = new MemoryDelivery(this, entry);
    entry.delivery = delivery;
    entry.deadline = this.loop!.time() + this.visibilityTimeout;
    this.inFlight.set(entry, true);
    if (this.sweepTimer === null) this.sweepTimer = this.loop!.callAt(entry.deadline, this.sweep);
    return delivery;
  }

  /** Deliveries past their deadline go back to the front of the queue; their owners become stale. */
  private readonly sweep = (): void => {
    this.sweepTimer = null;
    if (this.closed) return;
    const now = this.loop!.time();
    const expired: Entry[] = [];
    for (const entry of this.inFlight.keys()) {
      if (entry.deadline > now) {
        this.sweepTimer = this.loop!.callAt(entry.deadline, this.sweep);
        break;
      }
      expired.push(entry);
    }
    // Unshifted newest first, so the oldest expired delivery is handed out first.
    for (let i = expired.length - 1; i >= 0; i--) {
      const entry = expired[i]!;
      this.inFlight.delete(entry);
      entry.delivery = null;
      entry.state = 'ready';
      this.readyCount++;
      this.ready.unshift(entry);
    }
    if (expired.length !== 0) this.dispatch();
  };

  private addDeadLetter(entry: Entry, reason: DeadLetterReason): void {
    const id = `dl-${entry.message.runId}`;
    this.dead.delete(id);
    this.dead.set(id, {
      id,
      message: entry.message,
      key: entry.key,
      status: reason.status,
      statusMessage: reason.statusMessage,
      failedAt: new Date().toISOString(),
    });
    while (this.dead.size > this.maxDeadLetters) this.dead.delete(this.dead.keys().next().value!);
  }
}

function duplicateKey(key: string): Error {
  return codedError(Error, 'ERR_DUPLICATE_KEY', `a run with key ${JSON.stringify(key)} is already queued or running`);
}

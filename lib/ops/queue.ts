// The queue the scanner and the API enqueue into and the workers consume from. One interface,
// several stores: MemoryQueue (embedded, one process) now, a Redis stream later. Every
// implementation runs the same suite (test/ops/queue-contract.js), so the guarantees below are
// what the workers may rely on, whichever store is behind them.
//
// - At most one queued-or-running message per key: enqueue refuses a second one atomically
//   (ERR_DUPLICATE_KEY). A key is held from enqueue until the message is acked, dead-lettered or
//   removed; a nack (retry) or a redelivery keeps it held.
// - A consumer gets a Delivery and must ack or nack it. One not acked within the visibility
//   time-out (extend() pushes it back) goes to another consumer; from then on the old delivery
//   is stale and its ack/nack/deadLetter are refused (they resolve to false), so a run that
//   outlived its lease cannot finish a message that someone else now owns.
// - Dead letters are kept (bounded, oldest dropped first), listed, and retried under a new run.
// Methods that touch the store return PromiseLike (evloop Futures for the memory queue), so that
// a networked store fits behind the same signatures.

/** What travels through the queue: enough for a worker to find the run and start it. */
export interface QueueMessage {
  runId: string;
  task: string;
  params?: unknown;
}

export interface EnqueueOptions {
  /** Deduplication key: refused while a message with this key is queued or running. */
  key: string;
  /** Milliseconds before the message can be consumed (default 0). */
  delay?: number;
  /** The scanner lease's fencing token (Redis refuses an enqueue under an older one). */
  fence?: number;
}

export interface NackOptions {
  /** Milliseconds before the message can be consumed again (default 0: at once). */
  delay?: number;
}

export interface DeadLetterReason {
  status: number;
  statusMessage: string;
}

export interface Delivery {
  /** Unique per hand-out: a redelivered message gets a new delivery id. */
  readonly id: string;
  readonly message: QueueMessage;
  readonly key: string;
  /** How many times the message has been handed out, this time included (1 the first time). */
  readonly deliveries: number;
  /** Done with it: the message and its key are gone. False when this delivery is stale. */
  ack(): PromiseLike<boolean>;
  /** Back to the queue (after `delay`), key still held. False when stale. */
  nack(options?: NackOptions): PromiseLike<boolean>;
  /** To the dead letters, key released. False when stale. */
  deadLetter(reason: DeadLetterReason): PromiseLike<boolean>;
  /** Pushes the visibility deadline to now + the queue's visibility time-out. False when stale. */
  extend(): PromiseLike<boolean>;
}

export interface DeadLetterEntry {
  id: string;
  message: QueueMessage;
  key: string;
  status: number;
  statusMessage: string;
  /** ISO 8601 */
  failedAt: string;
}

export interface QueueStatsSnapshot {
  /** Ready to be consumed now. */
  depth: number;
  /** Handed out, not yet acked or nacked. */
  inFlight: number;
  /** Waiting for their delay (retries). */
  delayed: number;
  deadLetters: number;
}

export interface Queue {
  /** 'memory' or 'redis': what /health reports. */
  readonly kind: 'memory' | 'redis';
  /** Milliseconds a delivery stays with its consumer without extend() (workers heartbeat at a third of it). */
  readonly visibilityTimeout: number;
  /** Adds a message; rejects with ERR_DUPLICATE_KEY when its key is held, ERR_QUEUE_CLOSED after close(). */
  enqueue(message: QueueMessage, options: EnqueueOptions): PromiseLike<void>;
  /** The next delivery, waiting while none is ready. Cancelling the wait takes nothing from the queue. */
  consume(): PromiseLike<Delivery>;
  /** Whether a message with this key is queued or running. */
  hasKey(key: string): PromiseLike<boolean>;
  /** Removes a queued or delayed message (not one in flight) and releases its key; false when there is none. */
  remove(runId: string): PromiseLike<boolean>;
  stats(): PromiseLike<QueueStatsSnapshot>;
  /** Dead letters, oldest first. */
  deadLetters(): PromiseLike<DeadLetterEntry[]>;
  /**
   * Enqueues `message` under the dead letter's key and drops the dead letter, atomically.
   * Rejects with ERR_DEAD_LETTER_NOT_FOUND or ERR_DUPLICATE_KEY (then the dead letter stays).
   */
  retryDeadLetter(id: string, message: QueueMessage): PromiseLike<void>;
  /** Stops handing out: waiting consumers fail with ERR_QUEUE_CLOSED; timers are dropped. */
  close(): PromiseLike<void>;
}

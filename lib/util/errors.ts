// asyncio's exception types, as Error subclasses with stable `.code` strings.
// CancelledError and TimeoutError also carry the task status they stand for (status.ts).
import { Status } from './status';

/** The awaited operation was cancelled. Tasks that end with it get status -125 (-ECANCELED). */
export class CancelledError extends Error {
  readonly code = 'ERR_CANCELLED';
  readonly status = Status.CANCELLED;
  constructor(message?: string) {
    super(message === undefined ? '' : message);
    this.name = 'CancelledError';
  }
}

/** A deadline passed (waitFor, timeout, wait helpers). Tasks ending with it get status -110 (-ETIMEDOUT). */
export class TimeoutError extends Error {
  readonly code = 'ERR_TIMEOUT';
  readonly status = Status.TIMED_OUT;
  constructor(message?: string) {
    super(message === undefined ? '' : message);
    this.name = 'TimeoutError';
  }
}

/** An operation not allowed in the object's current state (result() of a pending future, …). */
export class InvalidStateError extends Error {
  readonly code = 'ERR_INVALID_STATE';
  constructor(message?: string) {
    super(message === undefined ? '' : message);
    this.name = 'InvalidStateError';
  }
}

/** Misuse of the loop or a task that asyncio reports as RuntimeError (loop closed, running twice, …). */
export class EventLoopError extends Error {
  readonly code: string;
  constructor(message: string, code = 'ERR_EVENT_LOOP') {
    super(message);
    this.name = 'EventLoopError';
    this.code = code;
  }
}

/** EOF came before `expected` bytes; `partial` holds what was read. */
export class IncompleteReadError extends Error {
  readonly code = 'ERR_INCOMPLETE_READ';
  readonly partial: Buffer;
  readonly expected: number | null;
  constructor(partial: Buffer, expected: number | null) {
    super(`${partial.length} bytes read on a total of ${expected === null ? 'undefined' : expected} expected bytes`);
    this.name = 'IncompleteReadError';
    this.partial = partial;
    this.expected = expected;
  }
}

/** A separator was not found within the reader's limit; `consumed` bytes are to be consumed. */
export class LimitOverrunError extends Error {
  readonly code = 'ERR_LIMIT_OVERRUN';
  readonly consumed: number;
  constructor(message: string, consumed: number) {
    super(message);
    this.name = 'LimitOverrunError';
    this.consumed = consumed;
  }
}

/** A Barrier was reset or aborted while waiting, or is broken (asyncio.BrokenBarrierError). */
export class BrokenBarrierError extends Error {
  readonly code = 'ERR_BROKEN_BARRIER';
  constructor(message?: string) {
    super(message === undefined ? '' : message);
    this.name = 'BrokenBarrierError';
  }
}

/** getNowait() on an empty queue. */
export class QueueEmpty extends Error {
  readonly code = 'ERR_QUEUE_EMPTY';
  constructor(message = 'the queue is empty') {
    super(message);
    this.name = 'QueueEmpty';
  }
}

/** putNowait() on a full queue. */
export class QueueFull extends Error {
  readonly code = 'ERR_QUEUE_FULL';
  constructor(message = 'the queue is full') {
    super(message);
    this.name = 'QueueFull';
  }
}

/** put on a queue that was shut down, or get on one that was shut down and is empty (3.13). */
export class QueueShutDown extends Error {
  readonly code = 'ERR_QUEUE_SHUT_DOWN';
  constructor(message = 'the queue is shut down') {
    super(message);
    this.name = 'QueueShutDown';
  }
}

/**
 * An error reply from a Redis server. `message` is Redis's own text; `code` its first word
 * ('ERR', 'WRONGTYPE', 'NOSCRIPT', 'MOVED', …), the part programs branch on.
 */
export class RedisError extends Error {
  readonly code: string;
  constructor(message: string) {
    super(message);
    this.name = 'RedisError';
    const space = message.indexOf(' ');
    this.code = space < 0 ? message : message.slice(0, space);
  }
}

/**
 * A Redis connection failed outside any one command: it was lost with replies pending
 * ('ERR_REDIS_CONNECTION_LOST'), the client was closed ('ERR_REDIS_CLOSED'), or the server sent
 * bytes that are not RESP ('ERR_REDIS_PROTOCOL').
 */
export class RedisConnectionError extends Error {
  readonly code: string;
  constructor(message: string, code: string) {
    super(message);
    this.name = 'RedisConnectionError';
    this.code = code;
  }
}

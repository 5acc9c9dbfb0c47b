// Calls of one loop pass sent together: callers add items during the pass, and at its end they
// go to Redis in calls of at most `max` items each, one reply per item, in order. A script call
// costs Redis more than most of what one item asks of it, and callers woken together (the
// consumers of one fetch, a burst of requests) finish in the same pass. The queue's enqueues
// and acknowledgements and the run store's starts are each one of these.
import type { Future } from '../core/future';
import type { EventLoop } from '../core/loop';

/** An item added and the Future its caller holds. */
export interface Batched<T, R> {
  readonly item: T;
  readonly out: Future<R>;
}

export interface PassBatchCalls<T, R> {
  /** Items a call takes at most: a script holds Redis for its whole run. */
  readonly max: number;
  /** Sends one call for `items`; its reply holds one answer per item, in order. May throw: each of them fails with it. */
  send(items: readonly T[]): Future<unknown>;
  /** What every item of a call that failed gets: `err`, or null when the call was cancelled (its client closed). */
  failure(err: unknown | null): unknown;
  /** An item's result from its answer; what it throws is that item's failure alone. */
  answer(item: T, reply: unknown): R;
  /** Takes over the items of a failed call (to send them again later): true when it did. */
  retry?(batch: ReadonlyArray<Batched<T, R>>, err: unknown): boolean;
}

export class PassBatch<T, R> {
  readonly #calls: PassBatchCalls<T, R>;
  #waiting: Array<Batched<T, R>> = [];
  readonly #flush = (): void => this.flush();

  constructor(calls: PassBatchCalls<T, R>) {
    this.#calls = calls;
  }

  /** `item` goes out at the end of this pass of `loop`; the Future is its answer. */
  add(loop: EventLoop, item: T): Future<R> {
    const out = loop.createFuture<R>();
    if (this.#waiting.push({ item, out }) === 1) loop.callSoon(this.#flush);
    return out;
  }

  /** Items taken over by retry() go out again at the end of this pass of `loop`, with their Futures. */
  readd(loop: EventLoop, batched: ReadonlyArray<Batched<T, R>>): void {
    if (batched.length !== 0 && this.#waiting.push(...batched) === batched.length) loop.callSoon(this.#flush);
  }

  /** Sends what waits now (close() does, so that what was asked for before it still goes out). */
  flush(): void {
    const waiting = this.#waiting;
    if (waiting.length === 0) return;
    this.#waiting = [];
    const calls = this.#calls;
    for (let i = 0; i < waiting.length; i += calls.max) {
      const batch = waiting.slice(i, i + calls.max);
      let reply: Future<unknown>;
      try {
        reply = calls.send(batch.map((b) => b.item));
      } catch (err) {
        for (const { out } of batch) if (!out.done()) out.setException(err);
        continue;
      }
      reply.addDoneCallback((f) => {
        const err = f.cancelled() ? calls.failure(null) : f.exception() === null ? null : calls.failure(f.exception());
        if (err !== null && calls.retry !== undefined && calls.retry(batch, err)) return;
        const replies = err === null ? (f.result() as unknown[]) : null;
        batch.forEach(({ item, out }, j) => {
          if (out.done()) return;
          if (replies === null) return void out.setException(err);
          let result: R;
          try {
            result = calls.answer(item, replies[j]);
          } catch (e) {
            return void out.setException(e);
          }
          out.setResult(result);
        });
      });
    }
  }
}

// The loop's timers, in deadline order (ties by scheduling order).
//
// A binary heap of 100 000 timers pays ~17 pointer-chasing comparisons per insert and per
// expiry; Node's own timers are fast because timers that fall due together live in one list.
// Here timers are grouped by the millisecond their deadline falls in: scheduling is an append,
// expiry walks an array, and only the bucket keys (one per distinct millisecond) sit in a heap.
// Inside a bucket the order is (when, seq); appends nearly always arrive in that order, so a
// bucket is sorted only when one arrived out of order.

export interface QueuedTimer {
  readonly _when: number;
  readonly _seq: number;
  _cancelled: boolean;
  /** True while queued; the queue clears it when the timer leaves. */
  _queued: boolean;
}

interface Bucket<T> {
  items: T[];
  head: number; // items before it have been taken
  sorted: boolean;
}

function byDeadline(a: QueuedTimer, b: QueuedTimer): number {
  return a._when - b._when || a._seq - b._seq;
}

export class TimerQueue<T extends QueuedTimer> {
  readonly #buckets = new Map<number, Bucket<T>>();
  #keys: number[] = []; // min-heap of bucket keys
  #length = 0;

  /** Timers queued, cancelled ones included until they are taken or purged. */
  get length(): number {
    return this.#length;
  }

  push(timer: T): void {
    const key = Math.floor(timer._when);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { items: [timer], head: 0, sorted: true };
      this.#buckets.set(key, bucket);
      this.#pushKey(key);
    } else {
      const items = bucket.items;
      if (bucket.sorted && items.length > bucket.head && byDeadline(items[items.length - 1]!, timer) > 0) bucket.sorted = false;
      items.push(timer);
    }
    this.#length++;
  }

  /** The earliest timer (perhaps cancelled), or undefined when none is queued. */
  peek(): T | undefined {
    if (this.#length === 0) return undefined;
    const bucket = this.#buckets.get(this.#keys[0]!)!;
    if (!bucket.sorted) this.#sort(bucket);
    return bucket.items[bucket.head];
  }

  /** Removes the timer `peek()` returned. */
  shift(): void {
    if (this.#length === 0) return;
    const key = this.#keys[0]!;
    const bucket = this.#buckets.get(key)!;
    bucket.items[bucket.head]!._queued = false;
    bucket.items[bucket.head++] = undefined as unknown as T; // let it be collected
    this.#length--;
    if (bucket.head === bucket.items.length) {
      this.#buckets.delete(key);
      this.#popKey();
    }
  }

  /**
   * Moves every timer due by `now` to `out`, in order, one tight loop per bucket; cancelled
   * timers at the front are dropped on the way. Returns how many cancelled timers it dropped.
   */
  takeDue(now: number, out: { push(timer: T): unknown }): number {
    let dropped = 0;
    while (this.#length !== 0) {
      const key = this.#keys[0]!;
      if (key > now) break; // the whole bucket is later: its deadlines are >= key
      const bucket = this.#buckets.get(key)!;
      if (!bucket.sorted) this.#sort(bucket);
      const items = bucket.items;
      const start = bucket.head;
      let i = start;
      for (; i < items.length; i++) {
        const t = items[i]!;
        if (!t._cancelled && t._when > now) break;
        items[i] = undefined as unknown as T; // let it be collected
        t._queued = false;
        if (t._cancelled) dropped++;
        else out.push(t);
      }
      this.#length -= i - start;
      bucket.head = i;
      if (i < items.length) break;
      this.#buckets.delete(key);
      this.#popKey();
    }
    return dropped;
  }

  /** Drops cancelled timers. */
  purge(): void {
    const emptied: number[] = [];
    for (const [key, bucket] of this.#buckets) {
      const kept: T[] = [];
      for (let i = bucket.head; i < bucket.items.length; i++) {
        const t = bucket.items[i]!;
        if (t._cancelled) t._queued = false;
        else kept.push(t);
      }
      this.#length -= bucket.items.length - bucket.head - kept.length;
      if (kept.length === 0) emptied.push(key);
      else {
        bucket.items = kept;
        bucket.head = 0;
      }
    }
    if (emptied.length === 0) return;
    for (const key of emptied) this.#buckets.delete(key);
    this.#keys = [...this.#buckets.keys()].sort((a, b) => a - b); // a sorted array is a valid heap
  }

  clear(): void {
    for (const t of this) t._queued = false;
    this.#buckets.clear();
    this.#keys = [];
    this.#length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const bucket of this.#buckets.values()) {
      for (let i = bucket.head; i < bucket.items.length; i++) yield bucket.items[i]!;
    }
  }

  #sort(bucket: Bucket<T>): void {
    const pending = bucket.items.slice(bucket.head).sort(byDeadline);
    bucket.items = pending;
    bucket.head = 0;
    bucket.sorted = true;
  }

  #pushKey(key: number): void {
    const keys = this.#keys;
    let i = keys.length;
    keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (keys[p]! <= key) break;
      keys[i] = keys[p]!;
      i = p;
    }
    keys[i] = key;
  }

  #popKey(): void {
    const keys = this.#keys;
    const last = keys.pop()!;
    const n = keys.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && keys[r]! < keys[l]! ? r : l;
      if (keys[c]! >= last) break;
      keys[i] = keys[c]!;
      i = c;
    }
    keys[i] = last;
  }
}

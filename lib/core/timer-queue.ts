// The loop's timers, in deadline order (ties by scheduling order).
//
// A binary heap of 100 000 timers pays ~17 pointer-chasing comparisons per insert and per
// expiry; Node's own timers are fast because timers that fall due together live in one list.
// Here timers are grouped by the millisecond their deadline falls in: scheduling is an append,
// expiry walks an array, and only the bucket keys (one per distinct millisecond) sit in a heap.
//
// Inside a bucket the order is (deadline, scheduling order). Appends arrive in scheduling order,
// and timers of one delay arrive in deadline order too, so a bucket holds a few ascending runs at
// worst (one per delay landing in that millisecond); it is put in order once, when first looked
// at, by a stable merge of those runs. The merge copies the deadlines into a reused array of
// doubles first, so comparisons read contiguous numbers instead of chasing a pointer each, and
// it allocates nothing (a sort() comparator's fractional result is a heap number per comparison:
// that garbage was once most of what a timer cost, since every young-generation GC copies every
// queued timer). Stability is what keeps ties in scheduling order: among equal deadlines a
// timer's place in its bucket always follows scheduling order (appends come last, merges and
// purges keep relative order), so no sequence number is compared.

export interface QueuedTimer {
  readonly _when: number;
  _cancelled: boolean;
  /** True while queued; the queue clears it when the timer leaves. */
  _queued: boolean;
}

interface Bucket<T> {
  items: T[]; // [head, end) are queued; slots past `end` hold undefined or are absent
  head: number; // items before it have been taken
  end: number;
  sorted: boolean;
}

const SPARE_BUCKETS = 64;
const SPARE_CAPACITY = 1024; // slots: at most 64 × 1024 × 8 bytes kept

export class TimerQueue<T extends QueuedTimer> {
  readonly #buckets = new Map<number, Bucket<T>>();
  #keys: number[] = []; // min-heap of bucket keys
  #length = 0;
  // Timers scheduled together often share a millisecond: skip the map lookup for them.
  #lastKey = NaN;
  #last: Bucket<T> | undefined = undefined;
  // Reused by #sort; the timer one is cleared after each use so it keeps no timer alive. The
  // deadline ones only ever hold doubles, so V8 keeps them unboxed.
  #scratchItems: T[] = [];
  // Emptied bucket arrays, reused: an array emptied by setting its length frees its backing
  // store, so buckets count their timers themselves and their arrays keep capacity.
  #spare: T[][] = [];
  #whensA: number[] = [];
  #whensB: number[] = [];
  #runs: number[] = [];

  /** Timers queued, cancelled ones included until they are taken or purged. */
  get length(): number {
    return this.#length;
  }

  push(timer: T): void {
    const when = timer._when;
    const key = Math.floor(when);
    let bucket = key === this.#lastKey ? this.#last : this.#buckets.get(key);
    if (bucket === undefined) {
      const items = this.#spare.pop() ?? [];
      items[0] = timer;
      bucket = { items, head: 0, end: 1, sorted: true };
      this.#buckets.set(key, bucket);
      this.#pushKey(key);
    } else {
      const items = bucket.items;
      const n = bucket.end;
      if (bucket.sorted && n > bucket.head && when < items[n - 1]!._when) bucket.sorted = false;
      items[n] = timer;
      bucket.end = n + 1;
    }
    this.#lastKey = key;
    this.#last = bucket;
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
    if (!bucket.sorted) this.#sort(bucket);
    bucket.items[bucket.head]!._queued = false;
    bucket.items[bucket.head++] = undefined as unknown as T; // let it be collected
    this.#length--;
    if (bucket.head === bucket.end) this.#dropFirstBucket(key, bucket);
  }

  /** How many cancelled timers the last takeDue() dropped. */
  dropped = 0;

  /**
   * Moves every timer due by `now` to `out` from index `n` on, in order, one tight loop per
   * bucket; cancelled timers at the front are dropped on the way (counted in `dropped`).
   * Returns the new count of `out`.
   */
  takeDue<R>(now: number, out: (T | R)[], n: number): number {
    let dropped = 0;
    while (this.#length !== 0) {
      const key = this.#keys[0]!;
      if (key > now) break; // the whole bucket is later: its deadlines are >= key
      const bucket = this.#buckets.get(key)!;
      if (!bucket.sorted) this.#sort(bucket);
      const items = bucket.items;
      const start = bucket.head;
      const end = bucket.end;
      let i = start;
      for (; i < end; i++) {
        const t = items[i]!;
        if (t._when > now && !t._cancelled) break;
        items[i] = undefined as unknown as T; // let it be collected
        t._queued = false;
        if (t._cancelled) dropped++;
        else out[n++] = t;
      }
      this.#length -= i - start;
      bucket.head = i;
      if (i < end) break;
      this.#dropFirstBucket(key, bucket);
    }
    this.dropped = dropped;
    return n;
  }

  /** Drops cancelled timers, in place (relative order is kept, so sorted buckets stay sorted). */
  purge(): void {
    let emptied = false;
    for (const [key, bucket] of this.#buckets) {
      const items = bucket.items;
      let k = 0;
      const end = bucket.end;
      for (let i = bucket.head; i < end; i++) {
        const t = items[i]!;
        if (t._cancelled) t._queued = false;
        else items[k++] = t;
      }
      this.#length -= end - bucket.head - k;
      items.fill(undefined as unknown as T, k, end);
      bucket.head = 0;
      bucket.end = k;
      if (k === 0) {
        this.#buckets.delete(key); // deleting the entry being visited is safe for a Map
        emptied = true;
      }
    }
    if (emptied) {
      this.#keys = [...this.#buckets.keys()].sort((a, b) => a - b); // a sorted array is a valid heap
      this.#forgetLast();
    }
  }

  clear(): void {
    for (const t of this) t._queued = false;
    this.#buckets.clear();
    this.#keys = [];
    this.#length = 0;
    this.#forgetLast();
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const bucket of this.#buckets.values()) {
      for (let i = bucket.head; i < bucket.end; i++) yield bucket.items[i]!;
    }
  }

  /** Drops the first bucket, once every timer in it has been taken (its slots are undefined). */
  #dropFirstBucket(key: number, bucket: Bucket<T>): void {
    this.#buckets.delete(key);
    this.#popKey();
    if (key === this.#lastKey) this.#forgetLast();
    // Kept for a later millisecond rather than grown anew from empty; a burst's big arrays go.
    if (this.#spare.length < SPARE_BUCKETS && bucket.items.length <= SPARE_CAPACITY) this.#spare.push(bucket.items);
  }

  #forgetLast(): void {
    this.#lastKey = NaN;
    this.#last = undefined;
  }

  /** Puts a bucket's pending timers in order: a bottom-up stable merge of its ascending runs. */
  #sort(bucket: Bucket<T>): void {
    let items = bucket.items;
    const lo = bucket.head;
    const hi = bucket.end;
    if (hi - lo < 2) {
      bucket.sorted = true;
      return;
    }
    let whens = this.#whensA;
    let toWhens = this.#whensB;
    let toItems = this.#scratchItems;
    // Grown by appending: setting .length would leave holes, and a holey array of doubles is no
    // longer a plain unboxed one.
    while (whens.length < hi) whens.push(0);
    while (toWhens.length < hi) toWhens.push(0);
    while (toItems.length < hi) toItems.push(undefined as unknown as T);
    const runs = this.#runs; // run r is [runs[r], runs[r + 1])
    runs.length = 0;
    runs.push(lo);
    let prev = (whens[lo] = items[lo]!._when);
    for (let i = lo + 1; i < hi; i++) {
      const w = (whens[i] = items[i]!._when);
      if (w < prev) runs.push(i);
      prev = w;
    }
    runs.push(hi);
    while (runs.length > 2) {
      let w = 0; // the next pass's run boundaries, written over this pass's
      let r = 0;
      for (; r + 2 < runs.length; r += 2) {
        const a0 = runs[r]!;
        const mid = runs[r + 1]!;
        const b1 = runs[r + 2]!;
        let i = a0;
        let j = mid;
        let k = a0;
        let wi = whens[i]!;
        let wj = whens[j]!;
        for (;;) {
          // Only a strictly earlier right-hand deadline goes first: ties keep their places.
          if (wj < wi) {
            toWhens[k] = wj;
            toItems[k++] = items[j]!;
            if (++j === b1) break;
            wj = whens[j]!;
          } else {
            toWhens[k] = wi;
            toItems[k++] = items[i]!;
            if (++i === mid) break;
            wi = whens[i]!;
          }
        }
        for (; i < mid; i++, k++) {
          toWhens[k] = whens[i]!;
          toItems[k] = items[i]!;
        }
        for (; j < b1; j++, k++) {
          toWhens[k] = whens[j]!;
          toItems[k] = items[j]!;
        }
        runs[w++] = a0;
      }
      if (r + 1 < runs.length) {
        // An odd run out: carried over as it is.
        for (let k = runs[r]!; k < hi; k++) {
          toWhens[k] = whens[k]!;
          toItems[k] = items[k]!;
        }
        runs[w++] = runs[r]!;
      }
      runs[w++] = hi;
      runs.length = w;
      const ti = items;
      items = toItems;
      toItems = ti;
      const tw = whens;
      whens = toWhens;
      toWhens = tw;
    }
    // `items` holds the order; the other timer array is scratch again.
    bucket.items = items;
    bucket.sorted = true;
    toItems.fill(undefined as unknown as T, lo, hi);
    this.#scratchItems = toItems;
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

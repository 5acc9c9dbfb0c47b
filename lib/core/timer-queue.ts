// The loop's timers, in deadline order (ties by scheduling order).
//
// A binary heap of 100 000 timers pays ~17 pointer-chasing comparisons per insert and per
// expiry; Node's own timers are fast because timers that fall due together live in one list.
// Here timers are grouped by the millisecond their deadline falls in: scheduling is an append,
// expiry walks an array, and only the bucket keys (one per distinct millisecond) sit in a heap.
// A bucket is found through a small direct-mapped table indexed by its key, not a hash lookup
// per timer (timers of mixed delays land in a different bucket from one call to the next); the
// Map behind it only serves collisions, purges and iteration.
//
// The queue keeps each deadline itself, as a double in an array parallel to the bucket's timers,
// rather than reading it from the timer: a number stored on an object is a separate heap number,
// one more object for every young-generation GC to copy while the timer waits, and sorting by
// it chases a pointer per comparison.
//
// Inside a bucket the order is (deadline, scheduling order). Appends arrive in scheduling order,
// and timers of one delay arrive in deadline order too, so a bucket holds a few ascending runs
// (one per delay landing in that millisecond, which is one per millisecond a burst of mixed
// delays took to schedule). It is put in order once, when first looked at: a stable counting
// sort on the deadline's fraction of the millisecond into about one slot per timer, then an
// insertion pass that settles the few timers sharing a slot. That is linear where a merge of the
// runs was ~log2(runs) passes, and it allocates nothing (a sort() comparator's fractional
// result is a heap number per comparison). Stability is what keeps ties in scheduling order:
// among equal deadlines a timer's place in its bucket always follows scheduling order (appends
// come last, sorts and purges keep relative order), so no sequence number is compared.

import type { TimerOwner } from './handles';

export interface QueuedTimer {
  _cancelled: boolean;
  /**
   * The queue while queued (set by push, cleared when the timer leaves): a timer cancelled while
   * it is set adds one to the queue's `cancelled`.
   */
  _queue: TimerOwner | null;
}

interface Bucket<T> {
  key: number;
  items: T[]; // [head, end) are queued; slots past `end` hold undefined or are absent
  whens: number[]; // the deadlines of `items`, slot for slot (only doubles: kept unboxed)
  head: number; // items before it have been taken
  end: number;
  sorted: boolean;
}

const WHEEL = 1024; // direct-mapped slots (a power of two)
const SPARE_CAPACITY = 1024; // slots of the largest bucket kept
const SPARE_SLOTS = 65536; // slots of all buckets kept: 65,536 × 16 bytes (1 MiB)
const SMALL = 16; // buckets this small are put in order by insertion alone
const MAX_SLOTS = 1 << 16;

// Every array here is made empty in the elements kind it will hold (popping keeps the kind): an
// empty literal starts as small integers and changes kind on its first store, and a fresh loop's
// queue whose arrays are in another kind than the code was optimized for sends it back to the
// interpreter (wrong map), where every deadline read allocates.
/** An empty array of unboxed doubles. */
export function doubles(): number[] {
  const a = [0.5];
  a.pop();
  return a;
}

/** An empty array of object references. */
export function objects<T>(): T[] {
  const a = [null] as unknown as T[];
  a.pop();
  return a;
}

// Emptied buckets, reused with their arrays: an array emptied by setting its length frees its
// backing store, so buckets count their timers themselves and their arrays keep capacity. A
// bucket grown from empty leaves ~2.5 times its final size in outgrown copies (40 bytes a timer
// in a burst of 100,000), so they are kept by total size, not by count (a burst of timers spread
// over 100 ms fills ~130 buckets), and for every queue of the thread: a loop made per run()
// starts with what the last one left. Their slots past `end` are undefined: they hold no timer.
const spare: Bucket<QueuedTimer>[] = objects();
let spareSlots = 0;

export class TimerQueue<T extends QueuedTimer> {
  readonly #buckets = new Map<number, Bucket<T>>();
  readonly #wheel: (Bucket<T> | undefined)[] = new Array<Bucket<T> | undefined>(WHEEL).fill(undefined);
  // Bucket keys are whole numbers, but held as doubles throughout (the heap's array, the
  // buckets' field): past 2^31 ms of uptime they no longer fit a small integer, and a field or
  // array that changes representation at run time sends the optimized code back to the start.
  #keys: number[] = doubles(); // min-heap of bucket keys
  #length = 0;
  // Reused by #sort; the timer one is cleared after each use so it keeps no timer alive.
  #toItems: T[] = objects();
  #toWhens: number[] = doubles();
  #slotOf = new Int32Array(0);
  #slotStart = new Int32Array(0);

  /** Cancelled timers still queued (their cancel() counts them; leaving the queue uncounts). */
  cancelled = 0;

  /** Timers queued, cancelled ones included until they are taken or purged. */
  get length(): number {
    return this.#length;
  }

  /** Queues `timer` to fall due at `when` (small enough to be inlined: `when` stays unboxed). */
  push(timer: T, when: number): void {
    const key = Math.floor(when);
    let bucket = this.#wheel[key & (WHEEL - 1)];
    if (bucket === undefined || bucket.key !== key) bucket = this.#bucketFor(key);
    const n = bucket.end;
    if (bucket.sorted && n !== bucket.head && when < bucket.whens[n - 1]!) bucket.sorted = false;
    bucket.items[n] = timer;
    bucket.whens[n] = when;
    bucket.end = n + 1;
    timer._queue = this;
    this.#length++;
  }

  /** The earliest timer (perhaps cancelled), or undefined when none is queued. */
  peek(): T | undefined {
    if (this.#length === 0) return undefined;
    const bucket = this.#first();
    return bucket.items[bucket.head];
  }

  /** The deadline of the timer `peek()` returns (Infinity when none is queued). */
  peekWhen(): number {
    if (this.#length === 0) return Infinity;
    const bucket = this.#first();
    return bucket.whens[bucket.head]!;
  }

  /** Removes the timer `peek()` returned. */
  shift(): void {
    if (this.#length === 0) return;
    const bucket = this.#first();
    const t = bucket.items[bucket.head]!;
    t._queue = null;
    if (t._cancelled) this.cancelled--;
    bucket.items[bucket.head++] = undefined as unknown as T; // let it be collected
    this.#length--;
    if (bucket.head === bucket.end) this.#dropFirstBucket(bucket);
  }

  /**
   * Moves every timer due by `now` to `out` from index `n` on, in order, one tight loop per
   * bucket; cancelled timers at the front are dropped on the way.
   * Returns the new count of `out`.
   */
  takeDue<R>(now: number, out: (T | R)[], n: number): number {
    while (this.#length !== 0) {
      if (this.#keys[0]! > now) break; // the whole bucket is later: its deadlines are >= key
      const bucket = this.#first();
      n = this.#takeFrom(bucket, now, out, n);
      if (bucket.head < bucket.end) break;
      this.#dropFirstBucket(bucket);
    }
    return n;
  }

  // The loop over one bucket is a method of its own: the first big pass gets it compiled while
  // it runs (on-stack replacement) before the code after it has ever run, and in one function
  // with the loop over buckets every bucket's end then sent it back to the interpreter, where
  // each deadline read allocates.
  #takeFrom<R>(bucket: Bucket<T>, now: number, out: (T | R)[], n: number): number {
    const items = bucket.items;
    const whens = bucket.whens;
    const start = bucket.head;
    const end = bucket.end;
    let dropped = 0;
    let i = start;
    for (; i < end; i++) {
      const t = items[i]!;
      if (whens[i]! > now && !t._cancelled) break;
      items[i] = undefined as unknown as T; // let it be collected
      t._queue = null;
      if (t._cancelled) dropped++;
      else out[n++] = t;
    }
    bucket.head = i;
    this.#length -= i - start;
    this.cancelled -= dropped;
    return n;
  }

  /** Drops cancelled timers, in place (relative order is kept, so sorted buckets stay sorted). */
  purge(): void {
    let emptied = false;
    for (const bucket of this.#buckets.values()) {
      const items = bucket.items;
      const whens = bucket.whens;
      let k = 0;
      const end = bucket.end;
      for (let i = bucket.head; i < end; i++) {
        const t = items[i]!;
        if (t._cancelled) t._queue = null;
        else {
          whens[k] = whens[i]!;
          items[k++] = t;
        }
      }
      this.#length -= end - bucket.head - k;
      items.fill(undefined as unknown as T, k, end);
      bucket.head = 0;
      bucket.end = k;
      if (k === 0) {
        this.#forget(bucket);
        emptied = true;
      }
    }
    this.cancelled = 0;
    if (emptied) {
      const keys = doubles();
      for (const key of this.#buckets.keys()) keys.push(key);
      this.#keys = keys.sort((a, b) => a - b); // a sorted array is a valid heap
    }
  }

  clear(): void {
    for (const t of this) t._queue = null;
    this.cancelled = 0;
    this.#buckets.clear();
    this.#wheel.fill(undefined);
    this.#keys = doubles();
    this.#length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (const bucket of this.#buckets.values()) {
      for (let i = bucket.head; i < bucket.end; i++) yield bucket.items[i]!;
    }
  }

  /** The bucket of `key`, made (or taken from the spares) when there is none. */
  #bucketFor(key: number): Bucket<T> {
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = spare.pop() as Bucket<T> | undefined;
      if (bucket === undefined) bucket = { key: 0.5, items: objects(), whens: doubles(), head: 0, end: 0, sorted: true };
      else spareSlots -= bucket.items.length;
      bucket.key = key;
      bucket.head = 0;
      bucket.end = 0;
      bucket.sorted = true;
      this.#buckets.set(key, bucket);
      this.#pushKey(key);
    }
    this.#wheel[key & (WHEEL - 1)] = bucket;
    return bucket;
  }

  /** The bucket of the earliest key, in order. */
  #first(): Bucket<T> {
    const key = this.#keys[0]!;
    let bucket = this.#wheel[key & (WHEEL - 1)];
    if (bucket === undefined || bucket.key !== key) bucket = this.#buckets.get(key)!;
    if (!bucket.sorted) this.#sort(bucket);
    return bucket;
  }

  /** Drops the first bucket, once every timer in it has been taken (its slots are undefined). */
  #dropFirstBucket(bucket: Bucket<T>): void {
    this.#forget(bucket);
    this.#popKey();
    // Kept for a later millisecond rather than grown anew from empty; a burst's big arrays go.
    const slots = bucket.items.length;
    if (slots <= SPARE_CAPACITY && spareSlots + slots <= SPARE_SLOTS) {
      spare.push(bucket as unknown as Bucket<QueuedTimer>);
      spareSlots += slots;
    }
  }

  #forget(bucket: Bucket<T>): void {
    this.#buckets.delete(bucket.key); // deleting the entry being visited is safe for a Map
    const slot = bucket.key & (WHEEL - 1);
    if (this.#wheel[slot] === bucket) this.#wheel[slot] = undefined;
  }

  /**
   * Puts a bucket's pending timers in (deadline, scheduling) order: a stable counting sort by
   * the deadline's place in the bucket's millisecond, then a stable insertion pass.
   */
  #sort(bucket: Bucket<T>): void {
    bucket.sorted = true;
    const lo = bucket.head;
    const hi = bucket.end;
    const n = hi - lo;
    if (n <= SMALL) {
      insertionSort(bucket.items, bucket.whens, lo, hi, Infinity);
      return;
    }
    const items = bucket.items;
    const whens = bucket.whens;
    const key = bucket.key;
    let slots = SMALL;
    while (slots < n && slots < MAX_SLOTS) slots *= 2;
    if (this.#slotOf.length < n) this.#slotOf = new Int32Array(Math.max(n, 2 * this.#slotOf.length));
    if (this.#slotStart.length < slots + 1) this.#slotStart = new Int32Array(slots + 1);
    const slotOf = this.#slotOf;
    const start = this.#slotStart;
    start.fill(0, 0, slots + 1);
    for (let i = 0; i < n; i++) {
      // when - key is exact and in [0, 1) for a finite deadline (Sterbenz), though it may round
      // to 1 for a tiny negative one; NaN (an infinite deadline) becomes slot 0.
      let s = ((whens[lo + i]! - key) * slots) | 0;
      if (s >= slots) s = slots - 1;
      slotOf[i] = s;
      start[s + 1]!++;
    }
    for (let s = 0; s < slots; s++) start[s + 1]! += start[s]!;
    const toItems = this.#toItems;
    const toWhens = this.#toWhens;
    // Grown by appending: setting .length would leave holes, and a holey array of doubles is no
    // longer a plain unboxed one.
    while (toItems.length < hi) toItems.push(undefined as unknown as T);
    while (toWhens.length < hi) toWhens.push(0.5);
    for (let i = 0; i < n; i++) {
      const k = lo + start[slotOf[i]!]!++;
      toItems[k] = items[lo + i]!;
      toWhens[k] = whens[lo + i]!;
    }
    // Deadlines crowded into a few slots (far closer together than 1/n ms) would make the
    // insertion pass quadratic: past a linear budget of moves, a merge of ascending runs finishes
    // the job (both passes keep ties in order, so stopping between them loses nothing).
    if (!insertionSort(toItems, toWhens, lo, hi, 4 * n)) mergeRuns(toItems, toWhens, items, whens, lo, hi);
    // The sorted arrays become the bucket's; its old ones are scratch (cleared of timers).
    bucket.items = toItems;
    bucket.whens = toWhens;
    items.fill(undefined as unknown as T, lo, hi);
    this.#toItems = items;
    this.#toWhens = whens;
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

/**
 * Stable: a timer moves only past strictly later deadlines, so ties keep their order. Gives up
 * (returning false, with the range still a permutation that keeps ties in order) once it has made
 * more than `budget` moves.
 */
function insertionSort<T>(items: T[], whens: number[], lo: number, hi: number, budget: number): boolean {
  for (let i = lo + 1; i < hi; i++) {
    const w = whens[i]!;
    if (w >= whens[i - 1]!) continue;
    if (budget < 0) return false;
    const t = items[i]!;
    let j = i - 1;
    do {
      whens[j + 1] = whens[j]!;
      items[j + 1] = items[j]!;
      j--;
    } while (j >= lo && whens[j]! > w);
    budget -= i - j;
    whens[j + 1] = w;
    items[j + 1] = t;
  }
  return true;
}

/**
 * A bottom-up stable merge of the ascending runs of [lo, hi), in place in `items`/`whens`
 * (`tmpItems`/`tmpWhens`, at least `hi` long, are scratch). Only a strictly earlier right-hand
 * deadline goes first, so ties keep their places.
 */
function mergeRuns<T>(items: T[], whens: number[], tmpItems: T[], tmpWhens: number[], lo: number, hi: number): void {
  let srcI = items;
  let srcW = whens;
  let dstI = tmpItems;
  let dstW = tmpWhens;
  const bounds: number[] = [lo];
  for (let i = lo + 1; i < hi; i++) if (whens[i]! < whens[i - 1]!) bounds.push(i);
  bounds.push(hi);
  while (bounds.length > 2) {
    let w = 0;
    let r = 0;
    for (; r + 2 < bounds.length; r += 2) {
      const a = bounds[r]!;
      const mid = bounds[r + 1]!;
      const b = bounds[r + 2]!;
      let i = a;
      let j = mid;
      let k = a;
      while (i < mid && j < b) {
        if (srcW[j]! < srcW[i]!) {
          dstW[k] = srcW[j]!;
          dstI[k++] = srcI[j++]!;
        } else {
          dstW[k] = srcW[i]!;
          dstI[k++] = srcI[i++]!;
        }
      }
      for (; i < mid; i++, k++) {
        dstW[k] = srcW[i]!;
        dstI[k] = srcI[i]!;
      }
      for (; j < b; j++, k++) {
        dstW[k] = srcW[j]!;
        dstI[k] = srcI[j]!;
      }
      bounds[w++] = a;
    }
    if (r + 1 < bounds.length) {
      for (let k = bounds[r]!; k < hi; k++) {
        dstW[k] = srcW[k]!;
        dstI[k] = srcI[k]!;
      }
      bounds[w++] = bounds[r]!;
    }
    bounds[w++] = hi;
    bounds.length = w;
    [srcI, dstI] = [dstI, srcI];
    [srcW, dstW] = [dstW, srcW];
  }
  if (srcI !== items) {
    for (let k = lo; k < hi; k++) {
      items[k] = srcI[k]!;
      whens[k] = srcW[k]!;
    }
  }
}

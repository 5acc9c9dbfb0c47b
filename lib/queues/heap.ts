// A binary min-heap on an array, ordered by a compare function that may throw (an item the
// order does not know, a user compare with a bug): every comparison of an operation is made
// before the array is touched, so a throw leaves the heap exactly as it was.

export type Compare<T> = (a: T, b: T) => number;

// The indices a sift-down moves through, reused by every heap (operations never interleave).
const path: number[] = [];

/** Where `item` would settle moving up from slot `i` (comparisons only). */
function upTarget<T>(arr: T[], i: number, item: T, cmp: Compare<T>): number {
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (cmp(item, arr[parent]!) >= 0) break;
    i = parent;
  }
  return i;
}

/** Fills `path` with the slots `item` moves down through from `i` in a heap of `size`; returns its length. */
function downPath<T>(arr: T[], i: number, item: T, size: number, cmp: Compare<T>): number {
  let n = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    const r = l + 1;
    const c = r < size && cmp(arr[r]!, arr[l]!) < 0 ? r : l;
    if (cmp(arr[c]!, item) >= 0) break;
    path[n++] = c;
    i = c;
  }
  return n;
}

function applyUp<T>(arr: T[], from: number, to: number, item: T): void {
  let j = from;
  while (j > to) {
    const parent = (j - 1) >> 1;
    arr[j] = arr[parent]!;
    j = parent;
  }
  arr[to] = item;
}

function applyDown<T>(arr: T[], from: number, n: number, item: T): void {
  let j = from;
  for (let k = 0; k < n; k++) {
    const c = path[k]!;
    arr[j] = arr[c]!;
    j = c;
  }
  arr[j] = item;
}

export class Heap<T> {
  readonly items: T[] = [];
  constructor(private readonly cmp: Compare<T>) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    const arr = this.items;
    const i = arr.length;
    const to = upTarget(arr, i, item, this.cmp);
    arr.push(item);
    applyUp(arr, i, to, item);
  }

  /** Removes and returns the smallest item (the heap must not be empty). */
  pop(): T {
    const arr = this.items;
    const top = arr[0]!;
    const size = arr.length - 1;
    if (size === 0) {
      arr.pop();
      return top;
    }
    const last = arr[size]!;
    const n = downPath(arr, 0, last, size, this.cmp);
    arr.pop();
    applyDown(arr, 0, n, last);
    return top;
  }

  /** Removes one occurrence of `item` (by identity); false if absent. */
  remove(item: T): boolean {
    const arr = this.items;
    const i = arr.indexOf(item);
    if (i < 0) return false;
    const size = arr.length - 1;
    if (i === size) {
      arr.pop();
      return true;
    }
    const last = arr[size]!;
    const to = upTarget(arr, i, last, this.cmp);
    if (to < i) {
      arr.pop();
      applyUp(arr, i, to, last);
      return true;
    }
    const n = downPath(arr, i, last, size, this.cmp);
    arr.pop();
    applyDown(arr, i, n, last);
    return true;
  }

  clear(): void {
    this.items.length = 0;
  }
}

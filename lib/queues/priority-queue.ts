// asyncio.PriorityQueue: the smallest item goes out first (a binary heap, heap.ts).
import { codedError, invalidArgType, validateFunction } from '../util/validate';
import { Queue, type QueueOptions } from './queue';
import { Heap, type Compare } from './heap';

export interface PriorityQueueOptions<T> extends QueueOptions {
  /** Orders items: negative when `a` goes out before `b`. Default: defaultCompare. */
  compare?: Compare<T>;
}

function orderable(x: unknown): boolean {
  const t = typeof x;
  return t === 'number' || t === 'string' || t === 'bigint' || Array.isArray(x);
}

function cannotOrder(a: unknown, b: unknown): TypeError {
  const name = (x: unknown): string => (x === null ? 'null' : Array.isArray(x) ? 'array' : typeof x === 'object' ? (x.constructor?.name ?? 'Object') : typeof x);
  return codedError(TypeError, 'ERR_INVALID_ARG_TYPE', `PriorityQueue cannot order ${name(a)} and ${name(b)}: pass a compare function`);
}

/**
 * Python's ordering for what a priority queue usually holds: numbers (and bigints) by value,
 * strings by code unit, arrays element by element like tuples (`[priority, data]`: data is only
 * compared when priorities tie, and must then be orderable or the same object). Anything else
 * is a TypeError, as Python's `<` raises one.
 */
export function defaultCompare(a: unknown, b: unknown): number {
  const ta = typeof a;
  const tb = typeof b;
  if ((ta === 'number' || ta === 'bigint') && (tb === 'number' || tb === 'bigint')) {
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  }
  if (ta === 'string' && tb === 'string') return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (a[i] === b[i]) continue;
      const c = defaultCompare(a[i], b[i]);
      if (c !== 0) return c;
    }
    return a.length - b.length;
  }
  throw cannotOrder(a, b);
}

export class PriorityQueue<T = unknown> extends Queue<T> {
  private readonly _heap: Heap<T>;
  private readonly _checkItem: boolean;

  constructor(options?: PriorityQueueOptions<T>) {
    super(options);
    const compare = options?.compare;
    if (compare !== undefined) validateFunction(compare, 'options.compare');
    this._heap = new Heap<T>(compare ?? (defaultCompare as Compare<T>));
    this._checkItem = compare === undefined;
  }

  /** @internal the default order knows numbers, strings and arrays: refuse anything else up front */
  private _check(item: T): void {
    if (this._checkItem && !orderable(item)) throw invalidArgType('item', 'a number, string, bigint or array (or give the queue a compare function)', item);
  }

  override put(item: T) {
    this._check(item);
    return super.put(item);
  }

  override putNowait(item: T): void {
    this._check(item);
    super.putNowait(item);
  }

  /** @internal */ override _size(): number {
    return this._heap.length;
  }
  /** @internal */ override _push(item: T): void {
    this._heap.push(item);
  }
  /** @internal */ override _take(): T {
    return this._heap.pop();
  }
  /** @internal */ override _unget(item: T): void {
    this._heap.push(item);
  }
  /** @internal */ override _removeItem(item: T): boolean {
    return this._heap.remove(item);
  }
  /** @internal */ override _clear(): void {
    this._heap.clear();
  }
  /** @internal */ override _items(): T[] {
    return this._heap.items.slice();
  }
}

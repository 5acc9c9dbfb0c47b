// asyncio.LifoQueue: the most recently added item goes out first.
import { Queue } from './queue';

export class LifoQueue<T = unknown> extends Queue<T> {
  private readonly _stack: T[] = [];

  /** @internal */ override _size(): number {
    return this._stack.length;
  }
  /** @internal */ override _push(item: T): void {
    this._stack.push(item);
  }
  /** @internal */ override _take(): T {
    return this._stack.pop() as T;
  }
  /** @internal */ override _unget(item: T): void {
    this._stack.push(item);
  }
  /** @internal */ override _removeItem(item: T): boolean {
    const i = this._stack.lastIndexOf(item);
    if (i < 0) return false;
    this._stack.splice(i, 1);
    return true;
  }
  /** @internal */ override _clear(): void {
    this._stack.length = 0;
  }
  /** @internal */ override _items(): T[] {
    return this._stack.slice().reverse();
  }
}

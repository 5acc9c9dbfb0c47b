// The Future a stream read hands a generator task: an evloop Future in every way a generator
// uses one (`yield*`, cancel(), done(), result(), done callbacks, `instanceof Future`, the
// combinators), but not a native promise. A native promise is what lets V8 `await` a Future
// without a thenable job, which only async functions need; making one is V8's Promise
// constructor with its two resolving functions, and V8 never inlines `new` of a Promise subclass
// (callgrind, the generator streams echo server: ~390 instructions of a message's ~3,050 went
// to the read's Future). This is a plain object with a Future's fields and Future.prototype
// above it, which the optimizing compiler allocates inline.
// It stays awaitable, as a thenable: `await` (an async function called inside the generator's
// step) and Promise.resolve() go through its then(), which is a Future's own (FutureMethods.then,
// registering the await with an async-function task as `await` does). Only native-promise
// identity differs: util.types.isPromise() is false and Promise.resolve(f) is a new promise.
import { Future } from '../core/future';
import type { EventLoop } from '../core/loop';

function noop(): void {}

class StepFuture {
  // A Future's fields (future.ts), in its order. Nothing observes the native promise (there is
  // none): `constructor` below is a value, so nothing registers an `await` callback that would
  // settle one.
  _state: number;
  _result: unknown;
  _flags: number;
  _loop: EventLoop;
  _callbacks: unknown;
  _awaiter: unknown;
  _resolveNative: (v: unknown) => void;
  _rejectNative: (e: unknown) => void;
  constructor(loop: EventLoop) {
    this._state = 0; // PENDING
    this._result = undefined;
    this._flags = 0;
    this._loop = loop;
    this._callbacks = null;
    this._awaiter = null;
    this._resolveNative = noop;
    this._rejectNative = noop;
  }
}
// Future.prototype's `constructor` is the accessor an `await` of a native-promise Future reads
// (it registers the await with the task and settles the native promise later). Reached through
// a thenable (Promise.prototype.finally reads it for the species), it would register a native
// settling this object cannot take: here `constructor` is Promise, what the accessor returns.
// A prototype of its own, not a promise: defining `constructor` on it leaves V8's promise
// species protector intact (see settledFuture in future.ts).
Object.setPrototypeOf(StepFuture.prototype, Future.prototype);
Object.defineProperty(StepFuture.prototype, 'constructor', { configurable: true, enumerable: false, writable: false, value: Promise });

/** @internal A pending Future for a read made in a generator task's step (see above). */
export function newStepFuture<T>(loop: EventLoop): Future<T> {
  return new StepFuture(loop) as unknown as Future<T>;
}

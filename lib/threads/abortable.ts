// A promise-returning job as an evloop Future that can stop it: the job gets an AbortSignal,
// aborted when the Future is cancelled or when the loop closes with the Future still pending
// (the loop counts the job among its open resources, as it counts sockets).
import type { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { EventLoopError } from '../util/errors';

// Work in another thread is I/O the program waits for, but nothing in this thread says so:
// Piscina unrefs a worker that is still starting or idle, so a program awaiting a task whose
// worker is being spawned could see Node's loop run dry and exit. One ref'd timer (never
// firing) holds the process while any job is outstanding.
let outstanding = 0;
let keepAlive: NodeJS.Timeout | null = null;

function hold(): () => void {
  if (outstanding++ === 0) {
    if (keepAlive === null) keepAlive = setInterval(() => {}, 0x7fffffff);
    else keepAlive.ref();
  }
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    if (--outstanding === 0) keepAlive!.unref();
  };
}

/**
 * @internal Runs `start(signal)` as a Future of `loop`: settled from the promise, the signal
 * aborted on cancel or when the loop closes first.
 */
export function runAbortable<R>(loop: EventLoop, start: (signal: AbortSignal) => PromiseLike<unknown>, settle: (fut: Future<R>, value: unknown) => void): Future<R> {
  if (loop.isClosed()) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
  const fut = loop.createFuture<R>();
  const controller = new AbortController();
  let promise: PromiseLike<unknown>;
  try {
    promise = start(controller.signal);
  } catch (err) {
    fut.setException(err);
    return fut;
  }
  const release = hold();
  const resource = {
    _closeForLoop: (): void => {
      release();
      controller.abort(new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED'));
    },
  };
  loop._trackResource(resource);
  fut._addCallbackInternal(() => {
    release(); // settled, or cancelled: an aborted job needs nobody to wait for it
    loop._untrackResource(resource);
    if (fut.cancelled()) controller.abort(fut._makeCancelledError());
  });
  const live = (): boolean => !fut.done() && !loop.isClosed();
  Promise.resolve(promise).then(
    (value) => {
      release();
      if (!live()) return;
      try {
        settle(fut, value);
      } catch (err) {
        fut._setException(err);
      }
    },
    (err: unknown) => {
      release();
      // A promise may reject with anything, as a coroutine may throw anything.
      if (live()) fut._setException(err);
    },
  );
  return fut;
}


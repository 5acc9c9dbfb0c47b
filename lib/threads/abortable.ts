// A promise-returning job as an evloop Future that can stop it: the job gets an AbortSignal,
// aborted when the Future is cancelled or when the loop closes with the Future still pending
// (the loop counts the job among its open resources, as it counts sockets).
import type { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { EventLoopError } from '../util/errors';

/**
 * @internal Runs `start(signal)` as a Future of `loop`: settled from the promise, the signal
 * aborted on cancel or when the loop closes first.
 */
export function runAbortable<R>(loop: EventLoop, start: (signal: AbortSignal) => PromiseLike<unknown>, settle: (fut: Future<R>, value: unknown) => void): Future<R> {
  if (loop.isClosed()) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
  const fut = loop.createFuture<R>();
  const controller = new AbortController();
  const resource = { _closeForLoop: (): void => controller.abort(new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED')) };
  let promise: PromiseLike<unknown>;
  try {
    promise = start(controller.signal);
  } catch (err) {
    fut.setException(err);
    return fut;
  }
  loop._trackResource(resource);
  fut._addCallbackInternal(() => {
    loop._untrackResource(resource);
    if (fut.cancelled()) controller.abort(fut._makeCancelledError());
  });
  const live = (): boolean => !fut.done() && !loop.isClosed();
  Promise.resolve(promise).then(
    (value) => {
      if (live()) settle(fut, value);
    },
    (err: unknown) => {
      if (live()) fut.setException(err);
    },
  );
  return fut;
}


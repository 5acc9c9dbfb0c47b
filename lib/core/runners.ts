// run(): the bridge from plain Node code to a coroutine on a fresh loop (asyncio.run).
import { EventLoop, newEventLoop, type EventLoopOptions } from './loop';
import { validateObject } from '../util/validate';
import { gather } from './combinators';
import type { Coroutine, Task } from './task';

export interface RunOptions extends EventLoopOptions {}

/**
 * New loop; runs `main` (a coroutine, or a function returning one, called once the loop runs)
 * as a Task to completion; cancels what is left; closes the loop. Resolves to main's result.
 */
export function run<T>(main: Coroutine<T>, options: RunOptions = {}): Promise<T> {
  try {
    validateObject(options, 'options');
  } catch (err) {
    return Promise.reject(err);
  }
  let loop: EventLoop;
  let task: Task<T>;
  try {
    loop = newEventLoop(options);
    task = loop.createTask(main, { name: 'main' });
  } catch (e) {
    return Promise.reject(e);
  }
  return (async () => {
    try {
      return await loop.runUntilComplete<T>(task);
    } finally {
      try {
        await cancelAllTasks(loop);
      } finally {
        loop.close();
      }
    }
  })();
}

async function cancelAllTasks(loop: EventLoop): Promise<void> {
  const toCancel = [...loop._tasks];
  if (toCancel.length === 0) return;
  for (const t of toCancel) t.cancel();
  await loop.runUntilComplete(() => gather(toCancel, { returnExceptions: true }));
  for (const t of toCancel) {
    if (t.cancelled()) continue;
    const exc = t.exception();
    if (exc !== null) loop.callExceptionHandler({ message: 'unhandled exception during run() shutdown', exception: exc, task: t });
  }
}


// Which loop runs the current code — asyncio's get_running_loop — read from context.ts alone, so
// that futures and tasks made without a loop argument find theirs without importing loop.ts.
import { EventLoopError } from '../util/errors';
import { current as runningContext } from './context';
import { PENDING, type AbstractEventLoop } from './events';

// A module constant, not the import: TypeScript writes an imported name as a load from the
// other module's exports object (not folded: its fields are written twice), then a map check of
// `current`, at every use (see future.ts).
const current = runningContext;

/** The loop running the current code: the pass in progress, else the current task's, else the last started. */
export function getRunningLoop(): AbstractEventLoop {
  const loop = runningLoopOrNull();
  if (loop === null) throw new EventLoopError('no running event loop', 'ERR_NO_RUNNING_LOOP');
  return loop;
}

/** @internal As getRunningLoop, or null. */
export function runningLoopOrNull(): AbstractEventLoop | null {
  if (current.passLoop !== null) return current.passLoop;
  if (current.stepTask !== null) return current.stepTask._loop;
  const running = current.runningLoops;
  // One loop running (the common case) is the answer whatever the frame says: the frame only
  // picks between several, and a task of a loop that is not running never wins.
  if (running.length === 1) return running[0]!;
  return amongRunning(running);
}

// Out of line: the common cases above stay small enough for V8 to inline where futures are made.
function amongRunning(running: AbstractEventLoop[]): AbstractEventLoop | null {
  const frame = current.frame;
  if (frame !== null && frame.task !== null && frame.task._state === PENDING && frame.task._loop.isRunning()) return frame.task._loop;
  return running.length !== 0 ? running[running.length - 1]! : null;
}

// toThread: asyncio's to_thread for Node, where a thread runs a module rather than a closure.
// The pool is Piscina's (one per process, made on first use): sized to the CPUs, threads
// created on demand and ended after a few idle seconds, and an idle worker is unref'd, so an
// idle pool never keeps the process alive.
import * as os from 'os';
import * as path from 'path';
import { fileURLToPath } from 'url';
import type { Worker } from 'worker_threads';
import { getRunningLoop } from '../core/loop';
import type { Future } from '../core/future';
import { invalidArgType } from '../util/validate';
import { runAbortable } from './abortable';
import { fromRecord, type TaskOutcome } from './thread-error';
import type { ThreadTask } from './worker';

const IDLE_MS = 5000;

/**
 * The part of Piscina's pool evloop uses. Declared here so that the shipped types do not pull
 * in Piscina's own declarations (which need compiler options a user may not have).
 */
export interface ThreadPool {
  run(task: unknown, options: { signal: AbortSignal }): Promise<unknown>;
  readonly threads: Worker[];
}

let pool: ThreadPool | null = null;

/** @internal evloop's own worker pool (created on first use). */
export function defaultThreadPool(): ThreadPool {
  if (pool === null) {
    // Loaded on first use: a program that never runs a thread does not pay for Piscina.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Piscina: PiscinaPool } = require('piscina') as typeof import('piscina');
    pool = new PiscinaPool({
      filename: path.join(__dirname, 'worker.js'),
      minThreads: 0,
      maxThreads: Math.max(1, os.availableParallelism()),
      idleTimeout: IDLE_MS,
    });
  }
  return pool;
}

/** @internal Checks toThread's arguments; a relative path is taken from the current directory. */
export function threadTask(file: unknown, exportName: unknown, args: unknown[]): ThreadTask {
  let resolved: string;
  if (file instanceof URL || (typeof file === 'string' && file.startsWith('file:'))) resolved = fileURLToPath(file as string | URL);
  else if (typeof file === 'string' && file.length > 0) resolved = path.resolve(file);
  else throw invalidArgType('file', 'a non-empty string or a file: URL', file);
  if (exportName !== undefined && exportName !== null && typeof exportName !== 'string') {
    throw invalidArgType('exportName', 'of type string', exportName);
  }
  return { file: resolved, exportName: (exportName as string | null | undefined) ?? 'default', args };
}

/** @internal */
export function settleThreadOutcome<T>(fut: Future<T>, value: unknown): void {
  const outcome = value as TaskOutcome;
  if (outcome.ok) fut.setResult(outcome.value as T);
  else if ('error' in outcome) fut.setException(fromRecord(outcome.error));
  else fut._setException(outcome.thrown); // the worker threw something that is not an Error
}

/**
 * Runs `exportName` (default: the module's default export, or `module.exports` when it is a
 * function) of the module at `file` in a worker thread with `args` (structured-cloned), and
 * resolves to its result. Cancelling the Future aborts the work: a task still queued is
 * dropped, a running one's worker is terminated. A thrown error rejects the Future with that
 * error (its class, message, stack and own properties such as `.code`).
 */
export function toThread<T = unknown>(file: string | URL, exportName?: string | null, ...args: unknown[]): Future<T> {
  const loop = getRunningLoop();
  const task = threadTask(file, exportName, args);
  const threads = defaultThreadPool();
  return runAbortable<T>(loop, (signal) => threads.run(task, { signal }), settleThreadOutcome);
}

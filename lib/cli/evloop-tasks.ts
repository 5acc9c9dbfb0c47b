// `evloop-tasks`: the main job. Loads a tasks file, runs the embedded task operations (scanner,
// workers, the REST API and dashboard) in one process, and stops gracefully on SIGINT/SIGTERM.
// Exit codes: 0 after a graceful stop (or --help), 1 when something fails at run time (the port
// is taken, …), 2 for bad usage (an unknown or malformed flag, a tasks file that cannot be used).
import * as path from 'path';
import * as fs from 'fs';
import { pathToFileURL } from 'url';
import { parseArgs } from 'util';
import { newEventLoop } from '../core/loop';
import { Event } from '../sync/event';
import { createLogger, type Logger } from '../util/logger';
import { createTaskOps, type EmbeddedTaskOps } from '../ops/task-ops';
import { defineTasks, type TaskDefinition } from '../ops/registry';
import { RedisQueue } from '../ops/redis-queue';
import { RedisLease } from '../ops/redis-lease';
import { createRedisClient } from '../redis/client';
import { RedisRunStore } from '../ops/redis-run-store';
import type { TaskOps } from '../ops/types';

export const USAGE = `Usage: evloop-tasks --tasks FILE [options]

  --tasks FILE                the tasks file (CommonJS or ESM): { tasks, due? }
  --host HOST                 API interface (default 127.0.0.1)
  --port PORT                 API port, 0 for any free one (default 0)
  --workers N                 concurrent workers (default 4)
  --interval MS               scan interval (default 1000)
  --visibility-timeout MS     a delivery not acked within it goes to another worker (default 30000)
  --cache-ttl MS              how long identical GETs are served from the cache (default 1000)
  --redis URL                 share the queue through Redis (redis://HOST:PORT)
  --queue NAME                the queue's name on Redis (default evloop)
  --max-runs N                finished run records kept (default 10000; with --redis, in Redis)
  --max-run-age MS            drop finished run records older than this (default 0: no limit)
  --no-api                    no REST API and dashboard
  --no-scanner                no periodic scan (runs start through the API only)
  --help                      this text
`;

/** How long a stop lets running tasks finish before they are cancelled and requeued. */
const STOP_TIMEOUT = 10_000;

export interface CliOptions {
  tasks: string;
  host: string;
  port: number;
  workers: number;
  interval: number;
  visibilityTimeout: number;
  cacheTtl: number;
  redis: string | undefined;
  queue: string;
  maxRuns: number;
  maxRunAge: number;
  api: boolean;
  scanner: boolean;
}

export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function integer(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} must be a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value);
  if (n < min || n > max) throw new UsageError(`--${flag} must be between ${min} and ${max}, got ${value}`);
  return n;
}

/** Parses and checks the flags; throws UsageError with a message meant for the user. */
export function parseCli(argv: readonly string[]): CliOptions | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        tasks: { type: 'string' },
        host: { type: 'string' },
        port: { type: 'string' },
        workers: { type: 'string' },
        interval: { type: 'string' },
        'visibility-timeout': { type: 'string' },
        'cache-ttl': { type: 'string' },
        redis: { type: 'string' },
        queue: { type: 'string' },
        'max-runs': { type: 'string' },
        'max-run-age': { type: 'string' },
        'no-api': { type: 'boolean' },
        'no-scanner': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help === true) return 'help';
  const tasks = values.tasks as string | undefined;
  if (tasks === undefined || tasks === '') throw new UsageError('--tasks FILE is required');
  const host = (values.host as string | undefined) ?? '127.0.0.1';
  if (host === '') throw new UsageError('--host must not be empty');
  const queue = (values.queue as string | undefined) ?? 'evloop';
  if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(queue)) throw new UsageError(`--queue must be 1-64 of A-Z a-z 0-9 _ . : -, got ${JSON.stringify(queue)}`);
  const redis = values.redis as string | undefined;
  if (redis !== undefined && !/^rediss?:\/\/[^\s]+$/.test(redis)) throw new UsageError(`--redis must be a redis://HOST:PORT URL, got ${JSON.stringify(redis)}`);
  return {
    tasks,
    host,
    port: integer('port', values.port as string | undefined, 0, 0, 65535),
    workers: integer('workers', values.workers as string | undefined, 4, 0, 10_000),
    interval: integer('interval', values.interval as string | undefined, 1000, 1, 86_400_000),
    visibilityTimeout: integer('visibility-timeout', values['visibility-timeout'] as string | undefined, 30_000, 1, 86_400_000),
    cacheTtl: integer('cache-ttl', values['cache-ttl'] as string | undefined, 1000, 0, 86_400_000),
    redis,
    queue,
    maxRuns: integer('max-runs', values['max-runs'] as string | undefined, 10_000, 0, 1_000_000_000),
    maxRunAge: integer('max-run-age', values['max-run-age'] as string | undefined, 0, 0, 100 * 365 * 86_400_000),
    api: values['no-api'] !== true,
    scanner: values['no-scanner'] !== true,
  };
}

export interface TasksModule {
  tasks: Record<string, unknown>;
  due?: (now: number, ctx: { signal: AbortSignal }) => unknown;
}

// tsc turns import() into require() under CommonJS output; an ESM tasks file needs the real one.
const importModule = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

/** Loads a tasks file (CommonJS or ESM; module.exports, named exports or a default export) and checks it. */
export async function loadTasksFile(file: string): Promise<TasksModule> {
  const resolved = path.resolve(file);
  if (!fs.existsSync(resolved)) throw new UsageError(`tasks file not found: ${resolved}`);
  let mod: Record<string, unknown>;
  try {
    if (resolved.endsWith('.mjs')) {
      mod = await importModule(pathToFileURL(resolved).href);
    } else {
      try {
        // A user's file, named at run time: only require() (or import()) can load it.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        mod = require(resolved) as Record<string, unknown>;
      } catch (err) {
        if ((err as { code?: unknown }).code !== 'ERR_REQUIRE_ESM') throw err;
        mod = await importModule(pathToFileURL(resolved).href);
      }
    }
  } catch (err) {
    throw new UsageError(`cannot load tasks file ${resolved}: ${(err as Error)?.message ?? String(err)}`);
  }
  const candidate = (mod !== null && typeof mod === 'object' && 'tasks' in mod ? mod : (mod?.default as Record<string, unknown> | undefined)) ?? mod;
  if (candidate === null || typeof candidate !== 'object' || candidate.tasks === null || typeof candidate.tasks !== 'object') {
    throw new UsageError(`tasks file ${resolved} must export { tasks: { name: { run, … } }, due? }`);
  }
  if (candidate.due !== undefined && typeof candidate.due !== 'function') {
    throw new UsageError(`tasks file ${resolved}: due must be a function (now) => [{ task, key, params? }]`);
  }
  try {
    defineTasks(candidate.tasks);
  } catch (err) {
    throw new UsageError(`tasks file ${resolved}: ${(err as Error).message}`);
  }
  return candidate as unknown as TasksModule;
}

interface ApiServerLike {
  readonly url: string;
  close(): PromiseLike<void>;
}
type StartApiServer = (ops: TaskOps, options?: { host?: string; port?: number; cacheTtl?: number; logger?: unknown }) => PromiseLike<ApiServerLike>;

/** The REST API module, when this build has it (lib/ops/api, from the ops-web work). */
function loadApi(): StartApiServer | null {
  try {
    // Loaded when present, so that this program builds and runs (with --no-api) without it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../ops/api/server') as { startApiServer: StartApiServer }).startApiServer;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'MODULE_NOT_FOUND' && /ops[\\/]api[\\/]server/.test(String((err as Error).message))) return null;
    throw err;
  }
}

/**
 * The whole program; resolves to the exit code. It does not wait for the loop to wind down:
 * a handler that ignored its cancellation may still hold a task, and the process exits anyway.
 */
export async function main(argv: readonly string[]): Promise<number> {
  const stdout = (text: string): void => void process.stdout.write(text);
  const stderr = (text: string): void => void process.stderr.write(text);
  let options: CliOptions | 'help';
  let mod: TasksModule;
  let startApi: StartApiServer | null = null;
  try {
    options = parseCli(argv);
    if (options === 'help') {
      stdout(USAGE);
      return 0;
    }
    if (options.redis !== undefined && options.redis.startsWith('rediss:')) {
      throw new UsageError('--redis: TLS (rediss://) is not supported yet; use redis://HOST:PORT');
    }
    if (options.api) {
      startApi = loadApi();
      if (startApi === null) throw new UsageError('the REST API is not part of this build (lib/ops/api); run with --no-api');
    }
    mod = await loadTasksFile(options.tasks);
  } catch (err) {
    if (err instanceof UsageError) {
      stderr(`evloop-tasks: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
  const opts = options;
  const logger = createLogger();
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  const loop = newEventLoop({ logger });

  return new Promise<number>((resolveExit) => {
    const body = async (): Promise<void> => {
      const stopRequested = new Event();
      let stopSignal = '';
      const onSignal = (signal: string): void => {
        if (!stopRequested.isSet()) {
          stopSignal = signal;
          stopRequested.set();
        } else {
          // A second signal while stopping: the user insists.
          logger.warn('second signal during the graceful stop, exiting now', signal);
          resolveExit(1);
        }
      };
      for (const s of signals) process.on(s, onSignal);
      // Signal handlers do not keep Node alive; with no API, no scanner and no workers nothing
      // else would, and the process must stay until it is told to stop.
      const keepAlive = setInterval(() => {}, 1 << 30);
      let ops: EmbeddedTaskOps | null = null;
      let redisQueue: RedisQueue | null = null;
      let runStore: RedisRunStore | null = null;
      let api: ApiServerLike | null = null;
      try {
        // --redis: the queue and the scanner lease live in Redis, shared by every process with
        // the same --queue; the lease lasts three scan intervals (at least a second).
        if (opts.redis !== undefined) {
          // The client logs an outage of Redis once, and its end (the queue and lease retry meanwhile).
          redisQueue = new RedisQueue({ client: createRedisClient({ url: opts.redis, logger }), name: opts.queue, visibilityTimeout: opts.visibilityTimeout });
          // The run records too, on the queue's client: every process's API lists every run.
          runStore = new RedisRunStore({ client: redisQueue.client, name: opts.queue, maxFinishedRuns: opts.maxRuns, maxRunAge: opts.maxRunAge });
        }
        ops = createTaskOps({
          tasks: mod.tasks as Record<string, TaskDefinition>,
          due: mod.due,
          workers: opts.workers,
          interval: opts.interval,
          visibilityTimeout: opts.visibilityTimeout,
          scanner: opts.scanner,
          logger,
          maxFinishedRuns: opts.maxRuns,
          maxRunAge: opts.maxRunAge,
          ...(redisQueue !== null ? { queue: redisQueue, store: runStore!, lease: new RedisLease(redisQueue, { ttl: Math.max(3 * opts.interval, 1000) }) } : {}),
        });
        ops.start();
        if (startApi !== null) {
          api = await startApi(ops, { host: opts.host, port: opts.port, cacheTtl: opts.cacheTtl, logger });
          stdout(`listening on ${api.url}\n`);
        } else {
          stdout(`running without the API: ${opts.workers} workers, scanner ${ops.health().scanner}\n`);
        }
        await stopRequested.wait();
        logger.info('stopping', `on ${stopSignal}: running tasks get ${STOP_TIMEOUT} ms, then are requeued`);
      } catch (err) {
        logger.critical('evloop-tasks failed', err);
        await shutdown(ops, api, logger, redisQueue, runStore);
        for (const s of signals) process.removeListener(s, onSignal);
        clearInterval(keepAlive);
        resolveExit(1);
        return;
      }
      await shutdown(ops, api, logger, redisQueue, runStore);
      for (const s of signals) process.removeListener(s, onSignal);
      clearInterval(keepAlive);
      resolveExit(0);
    };
    loop.runUntilComplete(body).catch((err: unknown) => {
      logger.critical('evloop-tasks failed', err);
      resolveExit(1);
    });
  });
}

async function shutdown(ops: EmbeddedTaskOps | null, api: ApiServerLike | null, logger: Logger, redisQueue: RedisQueue | null, runStore: RedisRunStore | null): Promise<void> {
  if (api !== null) {
    try {
      await api.close();
    } catch (err) {
      logger.error('API close failed', err);
    }
  }
  if (ops !== null) {
    try {
      await ops.stop({ timeout: STOP_TIMEOUT });
    } catch (err) {
      logger.error('stop failed', err);
    }
  }
  // After the workers: their last acknowledgements and records go out first. A queue or store
  // passed in is not closed by ops.stop(); the store first, as it uses the queue's client.
  if (runStore !== null) {
    try {
      await runStore.close();
    } catch (err) {
      logger.error('Redis run store close failed', err);
    }
  }
  if (redisQueue !== null) {
    try {
      await redisQueue.close();
      await redisQueue.client.close(); // passed in, so not closed by the queue
    } catch (err) {
      logger.error('Redis queue close failed', err);
    }
  }
}

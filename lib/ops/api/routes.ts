// The REST routes of API.md "Task operations", each checked in full before the operations layer
// is called, so a bad request changes nothing.
import { STATUS_BANDS, Status } from '../../util/status';
import { invalidArgType, invalidArgValue } from '../../util/validate';
import type { OpsChange, TaskOps } from '../types';
import { Tags, tagsOfChange, type CacheTag } from './cache';
import { httpError } from './http-error';
import { parseRunQuery } from './query';
import type { Params, Route } from './router';

/** A query: its cache tags, then (on a miss) the answer. Validation happens in `read` itself. */
export interface ReadHandler {
  kind: 'read';
  read(ops: TaskOps, params: Params, search: URLSearchParams): { tags: CacheTag[]; produce: () => PromiseLike<unknown> | unknown };
}

/** A change: its answer and the changes to drop from the cache once it is done. */
export interface WriteHandler {
  kind: 'write';
  write(ops: TaskOps, params: Params, body: Record<string, unknown>): PromiseLike<{ status: number; body: unknown; changes: OpsChange[]; location?: string }>;
}

/** The dashboard page. */
export interface PageHandler {
  kind: 'page';
}

export type Handler = ReadHandler | WriteHandler | PageHandler;

function noQuery(search: URLSearchParams): void {
  for (const name of search.keys()) throw invalidArgValue(name, search.get(name), 'is not a parameter of this route');
}

function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const name of Object.keys(body)) {
    if (!allowed.includes(name)) {
      const expected = allowed.length ? allowed.join(', ') : 'none';
      throw invalidArgValue(name, body[name], `is not a field of this request (expected: ${expected})`);
    }
  }
}

const statusCodes = Object.freeze({ bands: STATUS_BANDS, codes: Status });

const read = (fn: ReadHandler['read']): ReadHandler => ({ kind: 'read', read: fn });
const write = (fn: WriteHandler['write']): WriteHandler => ({ kind: 'write', write: fn });

export const ROUTES: readonly Route<Handler>[] = [
  { pattern: '/', handlers: { GET: { kind: 'page' } } },
  {
    pattern: '/health',
    handlers: {
      GET: read((ops, _p, search) => {
        noQuery(search);
        return { tags: [Tags.health], produce: () => ops.health() };
      }),
    },
  },
  {
    pattern: '/tasks',
    handlers: {
      // The task list is fixed once the tasks file is loaded: only the TTL ages it.
      GET: read((ops, _p, search) => {
        noQuery(search);
        return { tags: [], produce: () => ({ tasks: ops.listTasks() }) };
      }),
    },
  },
  {
    pattern: '/tasks/:name/runs',
    handlers: {
      POST: write(async (ops, params, body) => {
        onlyFields(body, ['params', 'key']);
        if (body.key !== undefined && typeof body.key !== 'string') throw invalidArgType('key', 'of type string', body.key);
        if (body.key === '') throw invalidArgValue('key', body.key, 'must not be empty');
        const input: { params?: unknown; key?: string } = {};
        if (body.params !== undefined) input.params = body.params;
        if (body.key !== undefined) input.key = body.key as string;
        const run = await ops.startRun(params.name!, input);
        return {
          status: 202,
          body: { run },
          changes: [{ kind: 'run', runId: run.id, task: run.task }],
          location: `/runs/${encodeURIComponent(run.id)}`,
        };
      }),
    },
  },
  {
    pattern: '/runs',
    handlers: {
      GET: read((ops, _p, search) => {
        const query = parseRunQuery(search);
        const tags = [Tags.runLists, query.task !== undefined ? Tags.runList(query.task) : Tags.runListAll];
        return { tags, produce: () => ops.listRuns(query) };
      }),
    },
  },
  {
    pattern: '/runs/:id',
    handlers: {
      GET: read((ops, params, search) => {
        noQuery(search);
        const id = params.id!;
        return {
          tags: [Tags.anyRun, Tags.run(id)],
          produce: async () => {
            const run = await ops.getRun(id);
            if (run === undefined) throw httpError(404, 'ERR_RUN_NOT_FOUND', `no run with id ${JSON.stringify(id)}`);
            return { run };
          },
        };
      }),
    },
  },
  {
    pattern: '/runs/:id/cancel',
    handlers: {
      POST: write(async (ops, params, body) => {
        onlyFields(body, []);
        const run = await ops.cancelRun(params.id!);
        return { status: 202, body: { run }, changes: [{ kind: 'run', runId: run.id, task: run.task }, { kind: 'queue' }] };
      }),
    },
  },
  {
    pattern: '/queue',
    handlers: {
      GET: read((ops, _p, search) => {
        noQuery(search);
        return { tags: [Tags.queue], produce: () => ops.queueStats() };
      }),
    },
  },
  {
    pattern: '/status-codes',
    handlers: {
      GET: read((_ops, _p, search) => {
        noQuery(search);
        return { tags: [], produce: () => statusCodes };
      }),
    },
  },
  {
    pattern: '/dead-letters',
    handlers: {
      GET: read((ops, _p, search) => {
        noQuery(search);
        return { tags: [Tags.deadLetters], produce: async () => ({ deadLetters: await ops.listDeadLetters() }) };
      }),
    },
  },
  {
    pattern: '/dead-letters/:id/retry',
    handlers: {
      POST: write(async (ops, params, body) => {
        onlyFields(body, []);
        const run = await ops.retryDeadLetter(params.id!);
        return {
          status: 202,
          body: { run },
          changes: [{ kind: 'run', runId: run.id, task: run.task }, { kind: 'deadLetter' }],
          location: `/runs/${encodeURIComponent(run.id)}`,
        };
      }),
    },
  },
];

/** The cache tags the changes of a write drop. */
export function tagsOfChanges(changes: readonly OpsChange[]): CacheTag[] {
  return changes.flatMap(tagsOfChange);
}

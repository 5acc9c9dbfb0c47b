// `GET /runs` query parameters, checked before the store is asked: a bad one is a 400 and nothing
// is read or changed.
import { STATUS_BANDS } from '../../util/status';
import { invalidArgValue } from '../../util/validate';
import type { RunQuery } from '../types';

export const DEFAULT_LIMIT = 50;
/** A page larger than this is refused: one request must not serialise the whole store. */
export const MAX_LIMIT = 1000;

const CATEGORIES: ReadonlySet<string> = new Set(STATUS_BANDS.map((band) => band.category));
const KNOWN = new Set(['task', 'category', 'limit', 'offset']);

function single(params: URLSearchParams, name: string): string | undefined {
  const all = params.getAll(name);
  if (all.length > 1) throw invalidArgValue(name, all, 'must be given at most once');
  return all[0];
}

function nonNegativeInteger(params: URLSearchParams, name: string, fallback: number, max: number): number {
  const text = single(params, name);
  if (text === undefined) return fallback;
  // Digits only: '', '-1', '1.5', '1e3', '0x10' and ' 1' are all refused.
  if (!/^[0-9]{1,16}$/.test(text)) throw invalidArgValue(name, text, 'must be a non-negative integer');
  const n = Number(text);
  if (n > max) throw invalidArgValue(name, text, `must be at most ${max}`);
  return n;
}

export function parseRunQuery(params: URLSearchParams): RunQuery {
  for (const name of params.keys()) {
    if (!KNOWN.has(name)) throw invalidArgValue(name, params.get(name), `is not a parameter of GET /runs (task, category, limit, offset)`);
  }
  const query: RunQuery = {
    limit: nonNegativeInteger(params, 'limit', DEFAULT_LIMIT, MAX_LIMIT),
    offset: nonNegativeInteger(params, 'offset', 0, Number.MAX_SAFE_INTEGER),
  };
  const task = single(params, 'task');
  if (task !== undefined) {
    if (task === '') throw invalidArgValue('task', task, 'must be a task name');
    query.task = task;
  }
  const category = single(params, 'category');
  if (category !== undefined) {
    if (!CATEGORIES.has(category)) {
      throw invalidArgValue('category', category, `must be a status category (${[...CATEGORIES].join(', ')})`);
    }
    query.category = category;
  }
  return query;
}

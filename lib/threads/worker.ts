// The worker side of toThread (loaded by Piscina in each pool thread): loads the caller's
// module, calls the export with the arguments, and answers with a TaskOutcome so that a thrown
// error keeps its `.code` (thread-error.ts).
import { pathToFileURL } from 'url';
import { toRecord, type TaskOutcome } from './thread-error';
import { invalidArgValue } from '../util/validate';

export interface ThreadTask {
  file: string;
  exportName: string;
  args: unknown[];
}

// tsc turns import() into require() for CommonJS output; ES modules need the real one.
const importESM = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

const modules = new Map<string, unknown>();

async function load(file: string): Promise<unknown> {
  let mod = modules.get(file);
  if (mod !== undefined) return mod;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    mod = require(file);
  } catch (err) {
    if ((err as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw err;
    mod = await importESM(pathToFileURL(file).href);
  }
  modules.set(file, mod);
  return mod;
}

function pick(mod: unknown, name: string): unknown {
  if (typeof mod === 'function' && name === 'default') return mod; // module.exports = fn
  const ns = mod as Record<string, unknown> | null;
  if (ns === null || (typeof ns !== 'object' && typeof ns !== 'function')) return undefined;
  if (ns[name] !== undefined) return ns[name];
  const dflt = ns.default as Record<string, unknown> | undefined;
  return dflt !== undefined && dflt !== null ? dflt[name] : undefined;
}

export default async function runThreadTask(task: ThreadTask): Promise<TaskOutcome> {
  try {
    const fn = pick(await load(task.file), task.exportName);
    if (typeof fn !== 'function') {
      throw invalidArgValue('exportName', task.exportName, `must name a function exported by ${task.file}`);
    }
    return { ok: true, value: await fn(...task.args) };
  } catch (err) {
    if (err instanceof Error) return { ok: false, error: toRecord(err) };
    return { ok: false, thrown: err };
  }
}

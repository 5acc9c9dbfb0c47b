// createSubprocessExec / createSubprocessShell (asyncio's create_subprocess_exec / _shell):
// check the options, spawn (native posix_spawn, never blocking the loop for more than the
// clone), wrap each piped stdio end in a pipe transport with a stream on top.
import { isMainThread } from 'worker_threads';
import { binding } from '../native/binding';
import { getRunningLoop, type EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { ReadPipeTransport, WritePipeTransport } from '../io/pipes';
import { StreamReader, StreamReaderProtocol, StreamWriter } from '../streams/streams';
import { invalidArgType, invalidArgValue, validateObject } from '../util/validate';
import { Process } from './process';

export type StdioOption = 'pipe' | 'inherit' | 'ignore';

export interface SubprocessOptions {
  /** Default 'pipe'. */
  stdin?: StdioOption;
  /** Default 'pipe'. */
  stdout?: StdioOption;
  /** Default 'pipe'; 'stdout' sends it to wherever stdout goes. */
  stderr?: StdioOption | 'stdout';
  /** The child's working directory. */
  cwd?: string;
  /** The child's whole environment (default: this process's). */
  env?: Record<string, string | undefined>;
  /** The StreamReaders' limit (default 64 KiB). */
  limit?: number;
}

const STDIO_CODES: Record<string, number> = { pipe: -1, inherit: -2, ignore: -3, stdout: -4 };

function stdioCode(value: unknown, name: string, allowStdout: boolean): number {
  if (value === undefined) return STDIO_CODES.pipe!;
  if (typeof value !== 'string') throw invalidArgType(`options.${name}`, "one of 'pipe', 'inherit', 'ignore'", value);
  const code = STDIO_CODES[value];
  if (code === undefined || (value === 'stdout' && !allowStdout)) {
    throw invalidArgValue(`options.${name}`, value, `must be 'pipe', 'inherit', 'ignore'${allowStdout ? " or 'stdout'" : ''}`);
  }
  return code;
}

function validateString(value: unknown, name: string): string {
  if (typeof value !== 'string') throw invalidArgType(name, 'of type string', value);
  if (value.includes('\0')) throw invalidArgValue(name, value, 'must be a string without null bytes');
  return value;
}

function envList(env: unknown): string[] | null {
  if (env === undefined) {
    // The main thread's process.env is the real environ, which the addon hands over as is; a
    // worker's is its own copy and must be spelled out.
    if (isMainThread) return null;
    env = process.env;
  }
  validateObject(env, 'options.env');
  const list: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    validateString(key, 'options.env key');
    if (key.includes('=')) throw invalidArgValue('options.env key', key, "must not contain '='");
    list.push(`${key}=${validateString(String(value), `options.env.${key}`)}`);
  }
  return list;
}

interface Prepared {
  env: string[] | null;
  cwd: string | null;
  stdio: [number, number, number];
  limit: number | undefined;
}

function prepare(opts: unknown): Prepared {
  if (opts === undefined) opts = {};
  validateObject(opts, 'options');
  const o = opts as SubprocessOptions;
  const stdio: [number, number, number] = [stdioCode(o.stdin, 'stdin', false), stdioCode(o.stdout, 'stdout', false), stdioCode(o.stderr, 'stderr', true)];
  const cwd = o.cwd === undefined ? null : validateString(o.cwd, 'options.cwd');
  const limit = o.limit;
  // Checked here so that a bad limit throws before a child exists.
  if (limit !== undefined) new StreamReader({ limit });
  return { env: envList(o.env), cwd, stdio, limit };
}

function spawnProcess(loop: EventLoop, file: string, argv: string[], p: Prepared): Future<Process> {
  const result = loop.createFuture<Process>();
  let spawned: ReturnType<typeof binding.spawn>;
  try {
    spawned = binding.spawn(file, argv, p.env, p.cwd, p.stdio);
  } catch (err) {
    // Node's shape: `spawn <file> ENOENT` with .path and .spawnargs.
    const e = err as Error & { syscall?: string; code?: string; path?: string; spawnargs?: string[] };
    if (e.syscall === 'spawn') {
      e.message = `spawn ${file} ${e.code}`;
      e.path = file;
      e.spawnargs = argv.slice(1);
    } else if (e.syscall === 'chdir') {
      e.message = `chdir ${e.code}: ${p.cwd}`;
      e.path = p.cwd ?? undefined;
    }
    result.setException(e);
    return result;
  }
  const [pid, pidfd, inFd, outFd, errFd] = spawned;
  const waiters: Array<Future<void>> = [];
  const transports: Array<{ abort(): void }> = [];
  const readStream = (fd: number, name: string): StreamReader | null => {
    if (fd < 0) return null;
    const reader = new StreamReader({ limit: p.limit, loop });
    const waiter = loop.createFuture<void>();
    waiters.push(waiter);
    transports.push(new ReadPipeTransport(loop, fd, new StreamReaderProtocol(reader, null, loop), waiter, { pipe: name, pid }));
    return reader;
  };
  let stdin: StreamWriter | null = null;
  if (inFd >= 0) {
    const protocol = new StreamReaderProtocol(null, null, loop);
    const waiter = loop.createFuture<void>();
    waiters.push(waiter);
    const transport = new WritePipeTransport(loop, inFd, protocol, waiter, { pipe: 'stdin', pid });
    transports.push(transport);
    stdin = new StreamWriter(transport as never, protocol, null, loop);
  }
  const process = new Process(loop, pid, pidfd, { stdin, stdout: readStream(outFd, 'stdout'), stderr: readStream(errFd, 'stderr') });
  // Cancelled before the caller got the Process: nobody can ever wait for this child, so kill
  // it (as asyncio does) and close its pipes; the exit watch still reaps it.
  result.addDoneCallback(() => {
    if (!result.cancelled()) return;
    process.kill();
    for (const transport of transports) transport.abort();
  });
  // Resolve once every pipe's connectionMade has run, as asyncio does.
  let left = waiters.length;
  if (left === 0) result.setResult(process);
  for (const waiter of waiters) {
    waiter.addDoneCallback(() => {
      if (--left === 0 && !result.done()) result.setResult(process);
    });
  }
  return result;
}

/**
 * Runs `file` with `args` (no shell; `file` without a '/' is looked up in PATH — the child's
 * PATH when `env` is given). Resolves to the running Process; a program that cannot be started
 * rejects with Node's error shape (`code` 'ENOENT', 'EACCES'; `syscall`, `path`).
 */
export function createSubprocessExec(file: string, args: readonly string[] = [], opts?: SubprocessOptions): Future<Process> {
  validateString(file, 'file');
  if (!Array.isArray(args)) throw invalidArgType('args', 'an instance of Array', args);
  const argv = [file, ...args.map((a, i) => validateString(a, `args[${i}]`))];
  const prepared = prepare(opts);
  return spawnProcess(getRunningLoop(), file, argv, prepared);
}

/** Runs `cmd` through `/bin/sh -c`. */
export function createSubprocessShell(cmd: string, opts?: SubprocessOptions): Future<Process> {
  validateString(cmd, 'cmd');
  const prepared = prepare(opts);
  return spawnProcess(getRunningLoop(), '/bin/sh', ['/bin/sh', '-c', cmd], prepared);
}

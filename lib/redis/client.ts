// The Redis client: commands from every caller share one pipelined connection (written together
// at the end of the loop pass, answered in order), opened on first use and replaced by a new one
// after it is lost. Blocking commands (XREADGROUP BLOCK, BLPOP) get a connection of their own
// from a Pool through `use`, so they never hold up the shared one.
import { createHash } from 'node:crypto';
import type { Future } from '../core/future';
import type { EventLoop } from '../core/loop';
import { getRunningLoop } from '../core/running';
import type { Task } from '../core/task';
import { Pool } from '../pool/pool';
import { RedisConnectionError, RedisError } from '../util/errors';
import { invalidArgType, invalidArgValue, validateInteger, validateMs, validateObject } from '../util/validate';
import { toLogger, type Logger } from '../util/logger';
import { RedisConnection, type ConnectionEvents, type RedisConnectOptions } from './connection';
import type { CommandArg } from './encode';
import type { RespValue } from './resp';
import { parseRedisUrl } from './url';

export interface RedisClientOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `unix:///path`; the fields below win over it. */
  url?: string;
  host?: string;
  port?: number;
  path?: string;
  username?: string;
  password?: string;
  db?: number;
  /** 2 (default) or 3 (HELLO 3: typed maps, doubles, booleans). */
  protocol?: 2 | 3;
  /** CLIENT SETNAME on every connection. */
  name?: string;
  /** ms to connect before the commands waiting for it fail with TimeoutError. Default 10 000. */
  connectTimeout?: number;
  /** ms after which a command fails with TimeoutError (its reply is dropped when it comes). Default: none. */
  commandTimeout?: number;
  /** Bulk strings as Buffers instead of UTF-8 strings. */
  returnBuffers?: boolean;
  /** At most this many dedicated connections for `use` (default 8). */
  maxDedicated?: number;
  /** Where an outage is told: one warning when connections start failing, one line when one opens again. Default: silent. */
  logger?: unknown;
}

export interface SendOptions {
  /** ms; overrides the client's `commandTimeout` for this command. */
  timeout?: number;
}

type Cmd = (...args: CommandArg[]) => Future<any>;

/** A Lua script run with EVALSHA, loaded again with EVAL when the server answers NOSCRIPT. */
export class RedisScript {
  readonly source: string;
  readonly sha: string;
  readonly #client: RedisClient;
  #loadedFor = -1;

  constructor(client: RedisClient, source: string, sha: string) {
    this.#client = client;
    this.source = source;
    this.sha = sha;
  }

  /** Runs the script with `keys` (KEYS[1…]) and `args` (ARGV[1…]). */
  run(keys: readonly CommandArg[] = [], args: readonly CommandArg[] = [], options?: SendOptions): Future<any> {
    const client = this.#client;
    // A new connection may be to a server that never saw the script (or restarted): load it
    // once ahead of the first EVALSHA, so a burst of calls does not all come back NOSCRIPT.
    const generation = client._connectionGeneration();
    if (this.#loadedFor !== generation) {
      this.#loadedFor = generation;
      client.send(['SCRIPT', 'LOAD', this.source]).addDoneCallback(retrieve);
    }
    const evalsha = client.send(['EVALSHA', this.sha, keys.length, ...keys, ...args], options);
    const result = client.loop.createFuture<any>();
    evalsha.addDoneCallback((f) => {
      if (result.done()) return;
      if (f.cancelled()) return void result.cancel();
      const err = f.exception();
      if (err === null) return result.setResult(f.result());
      if (!(err instanceof RedisError) || err.code !== 'NOSCRIPT') return result.setException(err);
      // The server lost its script cache (a restart, SCRIPT FLUSH): EVAL loads it again.
      const evaled = client.send(['EVAL', this.source, keys.length, ...keys, ...args], options);
      evaled.addDoneCallback((g) => {
        if (result.done()) return;
        if (g.cancelled()) result.cancel();
        else if (g.exception() !== null) result.setException(g.exception());
        else result.setResult(g.result());
      });
    });
    result.addDoneCallback(() => {
      if (result.cancelled()) evalsha.cancel();
    });
    return result;
  }
}

const COMMANDS = [
  'ping', 'echo', 'info', 'time', 'dbsize', 'flushdb', 'flushall',
  'get', 'set', 'getset', 'getdel', 'mget', 'mset', 'setnx', 'setex', 'psetex', 'append', 'strlen',
  'incr', 'incrby', 'incrbyfloat', 'decr', 'decrby',
  'del', 'unlink', 'exists', 'expire', 'pexpire', 'expireat', 'pexpireat', 'ttl', 'pttl', 'persist', 'type', 'keys', 'scan', 'rename',
  'hget', 'hset', 'hsetnx', 'hmget', 'hdel', 'hgetall', 'hincrby', 'hlen', 'hexists', 'hkeys', 'hvals', 'hscan',
  'lpush', 'rpush', 'lpop', 'rpop', 'llen', 'lrange', 'lrem', 'ltrim', 'lmove', 'blpop', 'brpop', 'blmove',
  'sadd', 'srem', 'smembers', 'sismember', 'scard', 'sscan',
  'zadd', 'zrem', 'zscore', 'zcard', 'zcount', 'zincrby', 'zrange', 'zrangebyscore', 'zremrangebyscore', 'zpopmin', 'zscan',
  'xadd', 'xlen', 'xrange', 'xrevrange', 'xread', 'xreadgroup', 'xack', 'xclaim', 'xautoclaim', 'xpending', 'xdel', 'xtrim', 'xgroup', 'xinfo',
  'eval', 'evalsha', 'script', 'fcall', 'function', 'publish', 'client', 'config', 'wait',
] as const;

type CommandName = (typeof COMMANDS)[number];

/**
 * Each Redis command the client names, as `client.get('k')` ≡ `client.call('GET', 'k')`. Commands
 * that change a connection's state (SELECT, WATCH, SUBSCRIBE, QUIT) are not among them: the
 * connection is shared; run them inside `use`.
 */
export type RedisCommands = { [K in CommandName]: Cmd };

// The command methods live on this base's prototype (installed below), typed by RedisCommands.
const CommandMethods = class {} as new () => RedisCommands;

export class RedisClient extends CommandMethods {
  readonly options: Readonly<RedisConnectOptions>;
  readonly commandTimeout: number | undefined;
  #loop: EventLoop | null = null;
  #main: RedisConnection | null = null;
  #pool: Pool<RedisConnection> | null = null;
  readonly #maxDedicated: number;
  #closed = false;
  #closing: Future<void> | null = null;
  #generation = 0;
  readonly #logger: Logger | null;
  readonly #events: ConnectionEvents | undefined;
  // Outage bookkeeping: connections are stamped with the epoch they were made (or opened) in; a
  // recovery starts a new epoch, so a late failure of a connection attempt from before it is not
  // a new outage.
  #epoch = 0;
  readonly #born = new WeakMap<RedisConnection, number>();
  #downSince: number | null = null;
  #everOpen = false;

  constructor(urlOrOptions: string | RedisClientOptions = {}) {
    super();
    const o: RedisClientOptions = typeof urlOrOptions === 'string' ? { url: urlOrOptions } : urlOrOptions;
    validateObject(o, 'options');
    // With no URL, REDIS_URL from the environment (as most clients do), else the local default.
    const envUrl = process.env.REDIS_URL;
    const fromUrl =
      o.url !== undefined ? parseRedisUrl(o.url, 'url') : envUrl ? parseRedisUrl(envUrl, 'REDIS_URL') : { host: '127.0.0.1', port: 6379 };
    const opts: RedisConnectOptions = { ...fromUrl };
    if (o.host !== undefined) {
      if (typeof o.host !== 'string' || o.host === '') throw invalidArgType('options.host', 'a non-empty string', o.host);
      opts.host = o.host;
    }
    if (o.port !== undefined) opts.port = validateInteger(o.port, 'options.port', 1, 65535);
    if (o.path !== undefined) {
      if (typeof o.path !== 'string' || o.path === '') throw invalidArgType('options.path', 'a non-empty string', o.path);
      opts.path = o.path;
    }
    for (const key of ['username', 'password', 'name'] as const) {
      const v = o[key];
      if (v === undefined) continue;
      if (typeof v !== 'string') throw invalidArgType(`options.${key}`, 'of type string', v);
      opts[key] = v;
    }
    if (o.db !== undefined) opts.db = validateInteger(o.db, 'options.db', 0, 65535);
    if (o.protocol !== undefined) {
      if (o.protocol !== 2 && o.protocol !== 3) throw invalidArgValue('options.protocol', o.protocol, 'must be 2 or 3');
      opts.protocol = o.protocol;
    }
    if (o.connectTimeout !== undefined) opts.connectTimeout = validateMs(o.connectTimeout, 'options.connectTimeout');
    if (o.returnBuffers !== undefined) {
      if (typeof o.returnBuffers !== 'boolean') throw invalidArgType('options.returnBuffers', 'of type boolean', o.returnBuffers);
      opts.returnBuffers = o.returnBuffers;
    }
    this.commandTimeout = o.commandTimeout === undefined ? undefined : validateMs(o.commandTimeout, 'options.commandTimeout');
    this.#maxDedicated = o.maxDedicated === undefined ? 8 : validateInteger(o.maxDedicated, 'options.maxDedicated', 1);
    this.#logger = o.logger === undefined ? null : toLogger(o.logger);
    if (this.#logger !== null) {
      const logger = this.#logger;
      const where = opts.path !== undefined ? opts.path : `${opts.host}:${opts.port}`;
      this.#events = {
        open: (conn) => {
          if (this.#downSince !== null && this.#born.get(conn) === this.#epoch) {
            logger.info('Redis connection back', `after ${Math.round(conn.loop.time() - this.#downSince)} ms`, where);
            this.#downSince = null;
            this.#epoch++;
          }
          // An open connection belongs to the current epoch, whenever it was made: its loss is news.
          this.#born.set(conn, this.#epoch);
          this.#everOpen = true;
        },
        lost: (conn, err) => {
          if (this.#downSince !== null || this.#born.get(conn) !== this.#epoch) return;
          this.#downSince = conn.loop.time();
          logger.warn(this.#everOpen ? 'Redis connection lost' : 'Redis connection failed', err, where);
        },
      };
    } else {
      this.#events = undefined;
    }
    this.options = opts;
  }

  #connect(loop: EventLoop): RedisConnection {
    const conn = new RedisConnection(loop, this.options, this.#events);
    if (this.#events !== undefined) this.#born.set(conn, this.#epoch);
    return conn;
  }

  /** The loop the client's connections live on (bound by the first command). */
  get loop(): EventLoop {
    let loop = this.#loop;
    if (loop === null || loop.isClosed()) {
      loop = getRunningLoop();
      if (this.#loop !== loop) this.#rebind(loop);
    }
    return loop;
  }

  #rebind(loop: EventLoop): void {
    // Connections of a closed loop are gone with it; the next command opens new ones here.
    this.#loop = loop;
    this.#main = null;
    this.#pool = null;
  }

  /** @internal Counts the shared connections opened so far (scripts load once per connection). */
  _connectionGeneration(): number {
    const conn = this.#main;
    return conn === null || !conn.usable ? this.#generation + 1 : this.#generation;
  }

  /** `client.call('SET', 'k', 'v')`: one command; settles with its reply (RedisError for an error reply). */
  call(...args: CommandArg[]): Future<any> {
    return this.send(args);
  }

  /** Like `call`, with the arguments as an array and per-command options. */
  send(args: ArrayLike<CommandArg>, options?: SendOptions): Future<any> {
    const loop = this.loop;
    if (this.#closed) {
      const f = loop.createFuture<RespValue>();
      f.setException(new RedisConnectionError('The Redis client is closed', 'ERR_REDIS_CLOSED'));
      return f;
    }
    let conn = this.#main;
    if (conn === null || !conn.usable) {
      conn = this.#main = this.#connect(loop);
      this.#generation++;
    }
    const timeout = options?.timeout !== undefined ? validateMs(options.timeout, 'options.timeout') : this.commandTimeout;
    return conn.send(args, timeout);
  }

  /** MULTI, the commands, EXEC — written together so no other caller's command lands inside; settles with EXEC's replies. */
  multi(commands: ReadonlyArray<ArrayLike<CommandArg>>, options?: SendOptions): Future<any[] | null> {
    if (!Array.isArray(commands)) throw invalidArgType('commands', 'an array of commands', commands);
    for (let i = 0; i < commands.length; i++) {
      const c = commands[i];
      if (c === null || typeof c !== 'object' || typeof (c as ArrayLike<unknown>).length !== 'number') throw invalidArgType(`commands[${i}]`, 'an array', c);
    }
    const multi = this.send(['MULTI'], options);
    const queued: Future<any>[] = [];
    try {
      for (const c of commands) queued.push(this.send(c, options));
    } catch (err) {
      // A bad argument: the transaction must not run half-built.
      this.send(['DISCARD']);
      throw err;
    }
    const exec = this.send(['EXEC'], options);
    // Their QUEUED replies say nothing: EXEC's array (or its error) is the answer.
    for (const f of [multi, ...queued]) f.addDoneCallback(retrieve);
    return exec;
  }

  /** A Lua script handle: `script.run(keys, args)` uses EVALSHA and falls back to EVAL on NOSCRIPT. */
  defineScript(source: string): RedisScript {
    if (typeof source !== 'string' || source === '') throw invalidArgType('source', 'a non-empty string', source);
    return new RedisScript(this, source, sha1(source));
  }

  /**
   * Runs `fn(conn)` on a dedicated connection (for blocking commands, WATCH, pub/sub), taken from a
   * pool and given back afterwards; `conn.call(...)` and `conn.send(args)` as on the client.
   */
  use<R>(fn: (conn: DedicatedConnection) => R | PromiseLike<R> | Generator<unknown, R, unknown>): Task<R> {
    if (typeof fn !== 'function') throw invalidArgType('fn', 'of type function', fn);
    if (this.#closed) throw new RedisConnectionError('The Redis client is closed', 'ERR_REDIS_CLOSED');
    const loop = this.loop;
    let pool = this.#pool;
    if (pool === null) {
      pool = this.#pool = new Pool<RedisConnection>({
        create: () => {
          const conn = this.#connect(loop);
          // PING proves the handshake (AUTH, SELECT) went through before anyone uses it.
          const ready = loop.createFuture<RedisConnection>();
          conn.send(['PING']).addDoneCallback((f) => {
            if (f.cancelled()) ready.cancel();
            else if (f.exception() !== null) ready.setException(f.exception());
            else ready.setResult(conn);
          });
          return ready;
        },
        destroy: (conn) => conn.close(),
        validate: (conn) => conn.usable,
        max: this.#maxDedicated,
      });
    }
    return pool.use((conn) => fn(new DedicatedConnection(conn, this.commandTimeout)));
  }

  /**
   * Replies owed are awaited, then the connections close; later commands fail with
   * 'ERR_REDIS_CLOSED'. Resolves once every socket is closed.
   */
  close(): Future<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    const loop = this.#loop !== null && !this.#loop.isClosed() ? this.#loop : getRunningLoop();
    const done = (this.#closing = loop.createFuture<void>());
    const waits: Future<void>[] = [];
    if (this.#main !== null) waits.push(this.#main.close());
    if (this.#pool !== null) {
      this.#pool.close();
      waits.push(this.#pool.waitClosed());
    }
    let left = waits.length;
    if (left === 0) done.setResult(undefined);
    for (const w of waits) {
      w.addDoneCallback(() => {
        if (--left === 0) done.setResult(undefined);
      });
    }
    return done;
  }
}

for (const name of COMMANDS) {
  const command = name.toUpperCase();
  Object.defineProperty(CommandMethods.prototype, name, {
    value: function (this: RedisClient, ...args: CommandArg[]): Future<any> {
      args.unshift(command);
      return this.send(args);
    },
    writable: true,
    configurable: true,
  });
}

/** A connection lent by `client.use`: it is the caller's alone until `fn` ends. */
export class DedicatedConnection {
  readonly #conn: RedisConnection;
  readonly #timeout: number | undefined;

  constructor(conn: RedisConnection, timeout: number | undefined) {
    this.#conn = conn;
    this.#timeout = timeout;
  }

  call(...args: CommandArg[]): Future<any> {
    return this.#conn.send(args, this.#timeout);
  }

  send(args: ArrayLike<CommandArg>, options?: SendOptions): Future<any> {
    return this.#conn.send(args, options?.timeout !== undefined ? validateMs(options.timeout, 'options.timeout') : this.#timeout);
  }

  /**
   * Drops the connection now (a blocking command can be left no other way): its pending
   * commands fail with 'ERR_REDIS_CLOSED', and the pool replaces it on a later `use`.
   */
  abort(): void {
    this.#conn.abort();
  }
}

/** `createRedisClient('redis://127.0.0.1:6379/0')` or `createRedisClient({ host, port, … })`. */
export function createRedisClient(urlOrOptions?: string | RedisClientOptions): RedisClient {
  if (urlOrOptions !== undefined && typeof urlOrOptions !== 'string' && (urlOrOptions === null || typeof urlOrOptions !== 'object')) {
    throw invalidArgType('urlOrOptions', 'a redis:// URL string or an options object', urlOrOptions);
  }
  return new RedisClient(urlOrOptions);
}

function retrieve(f: Future<unknown>): void {
  if (!f.cancelled()) f.exception();
}

function sha1(text: string): string {
  return createHash('sha1').update(text).digest('hex');
}

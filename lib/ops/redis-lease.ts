// The scanner lease on Redis ("one down, one up"): one holder at a time through a key set with
// NX and a time to live, renewed by its holder before each scan with a compare-and-extend
// script. Taking the lease raises the queue's fencing token, so an enqueue made by a scanner
// that lost its lease while paused (SIGSTOP, a long GC) carries an older token and is refused
// by the queue's enqueue script.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Future } from '../core/future';
import type { RedisClient, RedisScript } from '../redis/client';
import { invalidArgValue, validateMs } from '../util/validate';
import type { RedisQueue } from './redis-queue';
import type { ScannerLease } from './scanner';

export interface RedisLeaseOptions {
  /** Milliseconds the lease lasts without renewal: about the takeover time (default 5000). */
  ttl?: number;
  /** This process's name in the lease (default host:pid:random). */
  holder?: string;
}

// KEYS: lease, fence. ARGV: holder, ttl. Returns the fencing token (>= 0) while held; while
// another process holds it, -1 - the milliseconds it has left (so a standby can ask right then).
const ACQUIRE = `
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return tonumber(redis.call('GET', KEYS[2]) or '0')
end
if cur then return -1 - math.max(0, redis.call('PTTL', KEYS[1])) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return redis.call('INCR', KEYS[2])
`;

// KEYS: lease. ARGV: holder. Only the holder may let go.
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export class RedisLease implements ScannerLease {
  readonly ttl: number;
  readonly holder: string;
  readonly #keys: [string, string];
  // Defined once: a script handle loads its source once per connection, not once per call.
  readonly #acquire: RedisScript;
  readonly #release: RedisScript;
  readonly #client: RedisClient;
  #freeIn: number | null = null;

  constructor(queue: RedisQueue, options: RedisLeaseOptions = {}) {
    this.ttl = options.ttl === undefined ? 5000 : validateMs(options.ttl, 'options.ttl');
    if (this.ttl < 1 || !Number.isFinite(this.ttl)) throw invalidArgValue('options.ttl', options.ttl, 'must be a finite number of milliseconds >= 1');
    this.holder = options.holder ?? `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.#client = queue.client;
    this.#acquire = queue.client.defineScript(ACQUIRE);
    this.#release = queue.client.defineScript(RELEASE);
    this.#keys = [queue.fenceKey.replace(/fence$/, 'lease'), queue.fenceKey];
  }

  /** The fencing token while this process holds (or just took) the lease; null while another does. */
  acquire(): Future<number | null> {
    const reply = this.#acquire.run(this.#keys, [this.holder, Math.ceil(this.ttl)]);
    const out = this.#client.loop.createFuture<number | null>();
    reply.addDoneCallback((f) => {
      if (f.cancelled()) return void out.cancel();
      const err = f.exception();
      if (err !== null) return out.setException(err);
      const v = f.result() as number;
      this.#freeIn = v < 0 ? -1 - v : null;
      out.setResult(v < 0 ? null : v);
    });
    out.addDoneCallback(() => {
      if (out.cancelled()) reply.cancel();
    });
    return out;
  }

  /** After an acquire that found the lease held elsewhere: milliseconds until it expires, unless renewed. */
  nextAsk(): number | null {
    return this.#freeIn;
  }

  release(): Future<void> {
    return this.#release.run([this.#keys[0]], [this.holder]);
  }
}

// One Redis connection as an evloop Protocol: commands are pipelined (written together once per
// loop pass, or at once on an idle connection; replies matched to them in order), every reply
// settles its command's Future straight from dataReceived. A lost connection fails everything it owes with one clear error; it is never
// reused (the client opens a new one).
import type { Future } from '../core/future';
import type { TimerHandle } from '../core/handles';
import type { EventLoop } from '../core/loop';
import type { Transport } from '../io/transport-types';
// Installs loop.createConnection, which this file calls: a program that loads the Redis client
// without the public entry (the evloop-tasks CLI) must have it too.
import '../io/loop-networking';
import { RedisConnectionError, TimeoutError, type RedisError } from '../util/errors';
import { CommandEncoder } from './encode';
import { RespParser, type RespValue } from './resp';

export interface RedisConnectOptions {
  host: string;
  port: number;
  /** A Unix socket path instead of host and port. */
  path?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  db?: number | undefined;
  /** 3: RESP3 (HELLO 3) — maps, doubles, booleans and pushes arrive typed. Default 2. */
  protocol?: 2 | 3 | undefined;
  /** CLIENT SETNAME. */
  name?: string | undefined;
  /** Give up connecting (and fail the commands waiting for it) after this many ms. Default 10 000. */
  connectTimeout?: number | undefined;
  /** Bulk strings as Buffers. */
  returnBuffers?: boolean | undefined;
  /** RESP3 pushes (pub/sub messages, invalidations). */
  onPush?: ((value: RespValue[]) => void) | undefined;
}

const enum State {
  Connecting,
  Open,
  Closing,
  Closed,
}

type Reply = Future<RespValue>;

/** What the client hears of a connection's life (to log an outage once and its end once). */
export interface ConnectionEvents {
  /** The socket is connected. */
  open(conn: RedisConnection): void;
  /** The connection could not be opened or was lost (not called for a close or abort of ours). */
  lost(conn: RedisConnection, err: Error): void;
}

export function connectionLostError(detail: string, cause?: unknown): RedisConnectionError {
  const err = new RedisConnectionError(`Redis connection lost: ${detail}`, 'ERR_REDIS_CONNECTION_LOST');
  if (cause !== undefined && cause !== null) (err as { cause?: unknown }).cause = cause;
  return err;
}

export class RedisConnection {
  readonly loop: EventLoop;
  #state = State.Connecting;
  #transport: Transport | null = null;
  readonly #parser: RespParser;
  readonly #encoder = new CommandEncoder();
  // Futures owed a reply, oldest first, from #head on.
  #queue: Array<Reply | undefined> = [];
  #head = 0;
  #flushScheduled = false;
  // Commands in the last write: 1 means callers go one command at a time.
  #lastBatch = 0;
  readonly #flush = (): void => this.#write();
  #timers: Map<Reply, TimerHandle> | null = null;
  #connectTimer: TimerHandle | null = null;
  #closed: Future<void>;
  #error: Error | null = null;
  readonly #events: ConnectionEvents | undefined;

  constructor(loop: EventLoop, options: RedisConnectOptions, events?: ConnectionEvents) {
    this.loop = loop;
    this.#events = events;
    this.#closed = loop.createFuture<void>();
    this.#parser = new RespParser({
      onReply: (v) => this.#onReply(v),
      onError: (e) => this.#onErrorReply(e),
      onPush: options.onPush,
      returnBuffers: options.returnBuffers === true,
    });
    this.#queueHandshake(options);
    const connecting =
      options.path !== undefined
        ? loop.createUnixConnection(() => this as never, options.path)
        : loop.createConnection(() => this as never, options.host, options.port);
    const ms = options.connectTimeout ?? 10_000;
    if (ms > 0 && ms !== Infinity) {
      this.#connectTimer = loop.callLater(ms, () => {
        this.#connectTimer = null;
        if (connecting.done()) return;
        connecting.cancel();
        this.#fail(new TimeoutError(`Redis connect to ${where(options)} timed out after ${ms} ms`));
      });
    }
    connecting.addDoneCallback((f) => {
      this.#connectTimer?.cancel();
      this.#connectTimer = null;
      if (f.cancelled()) return;
      const err = f.exception() as Error | null;
      if (err !== null) this.#fail(err);
    });
  }

  #queueHandshake(options: RedisConnectOptions): void {
    const hello = options.protocol === 3;
    if (hello) {
      const args: Array<string | number> = ['HELLO', 3];
      if (options.password !== undefined) args.push('AUTH', options.username ?? 'default', options.password);
      this.#internal(args);
    } else if (options.password !== undefined) {
      this.#internal(options.username !== undefined ? ['AUTH', options.username, options.password] : ['AUTH', options.password]);
    }
    if (options.db !== undefined && options.db !== 0) this.#internal(['SELECT', options.db]);
    if (options.name !== undefined) this.#internal(['CLIENT', 'SETNAME', options.name]);
  }

  #internal(args: ArrayLike<unknown>): void {
    this.#encoder.add(args);
    // The handshake's replies (AUTH, SELECT, …) are owed to no Future: `undefined` marks them.
    this.#queue.push(undefined);
  }

  /** True until the connection is lost or closed: commands sent now will be answered or failed. */
  get usable(): boolean {
    return this.#state <= State.Open;
  }

  /** Replies owed. */
  get pending(): number {
    return this.#queue.length - this.#head;
  }

  /** Why the connection ended (null while it lives or after a clean close). */
  get error(): Error | null {
    return this.#error;
  }

  /**
   * Sends one command; its Future settles with the reply (a RedisError reply fails it). `timeout`
   * (ms) fails it with TimeoutError; the reply is still read and dropped when it comes.
   */
  send(args: ArrayLike<unknown>, timeout?: number): Reply {
    const loop = this.loop;
    if (this.#state > State.Open) {
      const f = loop.createFuture<RespValue>();
      f.setException(this.#error ?? new RedisConnectionError('Redis connection is closed', 'ERR_REDIS_CLOSED'));
      return f;
    }
    this.#encoder.add(args); // throws on a bad argument before anything is queued
    const future = loop.createFuture<RespValue>();
    this.#queue.push(future);
    if (timeout !== undefined && timeout !== Infinity) this.#arm(future, timeout, args[0]);
    if (!this.#flushScheduled && this.#state === State.Open) {
      // A caller awaiting one command at a time (the last write carried one command, and
      // nothing else is owed) has its command sent at once, without waiting for a loop pass;
      // otherwise commands gather until the end of this pass and go out together, so that many
      // callers answered by one read share one write (and the server one read).
      if (this.#lastBatch === 1 && this.#queue.length - this.#head === 1) {
        this.#write();
        return future;
      }
      this.#flushScheduled = true;
      loop.callSoon(this.#flush);
    }
    return future;
  }

  #arm(future: Reply, ms: number, name: unknown): void {
    const timers = (this.#timers ??= new Map());
    timers.set(
      future,
      this.loop.callLater(ms, () => {
        timers.delete(future);
        if (!future.done()) future.setException(new TimeoutError(`Redis command ${String(name)} timed out after ${ms} ms`));
      }),
    );
  }

  #write(): void {
    this.#flushScheduled = false;
    const t = this.#transport;
    if (t === null || this.#state > State.Closing) return;
    const count = this.#encoder.count;
    const bytes = this.#encoder.take();
    if (bytes === null) return;
    this.#lastBatch = count;
    t.write(bytes);
  }

  /**
   * Ends the connection once every reply owed has come (commands sent before this call are
   * answered); later `send`s fail with 'ERR_REDIS_CLOSED'. Resolves once the socket is closed.
   */
  close(): Future<void> {
    if (this.#state <= State.Open) {
      const wasConnecting = this.#state === State.Connecting;
      this.#state = State.Closing;
      if (!wasConnecting) {
        this.#write();
        this.#maybeFinishClose();
      }
    }
    return this.#closed;
  }

  /** Closes at once; replies owed fail with 'ERR_REDIS_CLOSED'. */
  abort(): void {
    if (this.#state === State.Closed) return;
    this.#fail(new RedisConnectionError('Redis connection was aborted', 'ERR_REDIS_CLOSED'));
  }

  #maybeFinishClose(): void {
    if (this.#state !== State.Closing || this.#transport === null) return;
    // Replies owed only to commands that timed out or were cancelled keep nobody waiting.
    const q = this.#queue;
    for (let i = this.#head; i < q.length; i++) {
      const f = q[i];
      if (f !== undefined && !f.done()) return;
    }
    this.#transport.close();
  }

  // ---- Protocol ------------------------------------------------------------------------------

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    if (this.#state === State.Connecting) this.#state = State.Open;
    this.#events?.open(this);
    this.#write();
    this.#maybeFinishClose();
  }

  dataReceived(data: Buffer): void {
    try {
      this.#parser.feed(data);
    } catch (err) {
      this.#fail(err as Error);
    }
  }

  eofReceived(): boolean {
    return false;
  }

  connectionLost(err: Error | null): void {
    const closedByUs = this.#state === State.Closing && this.#transport !== null && this.#transport.isClosing();
    this.#transport = null;
    if (this.#state === State.Closed) return;
    const owed = this.pending;
    if (closedByUs) {
      // Only replies nobody waits for were left (see #maybeFinishClose).
      this.#fail(new RedisConnectionError('Redis connection was closed', 'ERR_REDIS_CLOSED'));
      this.#error = null;
      return;
    }
    this.#fail(connectionLostError(err === null ? `the server closed it with ${owed} ${owed === 1 ? 'reply' : 'replies'} owed` : `${err.message} (${owed} owed)`, err));
  }

  // ---- replies -------------------------------------------------------------------------------

  #next(): Reply | undefined | null {
    const q = this.#queue;
    const h = this.#head;
    if (h === q.length) return null;
    const f = q[h];
    q[h] = undefined;
    if (h + 1 === q.length) {
      q.length = 0;
      this.#head = 0;
    } else if (h >= 4096 && h * 2 >= q.length) {
      // Under steady load the queue may never drain: drop the answered front now and then.
      q.splice(0, h + 1);
      this.#head = 0;
    } else {
      this.#head = h + 1;
    }
    return f;
  }

  #onReply(value: RespValue): void {
    const f = this.#next();
    if (f === null) return this.#fail(new RedisConnectionError('Redis protocol error: a reply nobody asked for', 'ERR_REDIS_PROTOCOL'));
    if (f !== undefined) {
      if (this.#timers !== null) this.#disarm(f);
      if (!f.done()) f.setResult(value);
    }
    if (this.#state === State.Closing) this.#maybeFinishClose();
  }

  #onErrorReply(err: RedisError): void {
    const f = this.#next();
    if (f === null) return this.#fail(new RedisConnectionError(`Redis protocol error: an error reply nobody asked for: ${err.message}`, 'ERR_REDIS_PROTOCOL'));
    if (f === undefined) {
      // AUTH, SELECT or HELLO failed: nothing after it may run (it would run as the wrong user or
      // in the wrong database), so everything queued fails with the server's own error.
      return this.#fail(err);
    }
    if (this.#timers !== null) this.#disarm(f);
    if (!f.done()) f.setException(err);
    if (this.#state === State.Closing) this.#maybeFinishClose();
  }

  #disarm(f: Reply): void {
    const t = this.#timers!.get(f);
    if (t !== undefined) {
      t.cancel();
      this.#timers!.delete(f);
    }
  }

  /** Ends the connection with `err`: every reply owed and every command not yet written fail with it. */
  #fail(err: Error): void {
    if (this.#state === State.Closed) return;
    this.#error = err;
    const q = this.#queue;
    const h = this.#head;
    this.#queue = [];
    this.#head = 0;
    this.#encoder.take();
    for (let i = h; i < q.length; i++) {
      const f = q[i];
      if (f !== undefined && !f.done()) f.setException(err);
    }
    if (this.#timers !== null) {
      for (const t of this.#timers.values()) t.cancel();
      this.#timers = null;
    }
    const t = this.#transport;
    this.#transport = null;
    if (t !== null) t.abort();
    this.#finish(err);
    if (this.#events !== undefined && (err as { code?: unknown }).code !== 'ERR_REDIS_CLOSED') this.#events.lost(this, err);
  }

  #finish(err: Error | null): void {
    this.#state = State.Closed;
    this.#error = err;
    this.#connectTimer?.cancel();
    this.#connectTimer = null;
    if (!this.#closed.done()) this.#closed.setResult(undefined);
  }
}

function where(o: RedisConnectOptions): string {
  return o.path !== undefined ? o.path : `${o.host}:${o.port}`;
}

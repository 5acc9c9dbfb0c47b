'use strict';
// The pool over real TCP connections to a server on 127.0.0.1 (Node's net on both sides: the
// pool is generic, and this keeps its tests independent of the streams layer).
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');
const { run, Pool, CancelledError, TimeoutError } = require('evloop');

/** A local server that counts and can drop its connections. */
async function startServer() {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    sockets,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port nothing listens on: connecting to it is refused (a real ECONNREFUSED). */
async function refusedPort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const { connect } = require('../helpers/tcp-util');

/** Pool options over real sockets, with a ledger of what create/destroy did. */
function tcpOptions(port, extra = {}) {
  const ledger = { created: 0, destroyed: 0, open: new Set(), createCalls: 0 };
  return {
    ledger,
    options: {
      max: 2,
      async create() {
        ledger.createCalls++;
        const s = await connect(port);
        ledger.created++;
        ledger.open.add(s);
        return s;
      },
      destroy(s) {
        ledger.destroyed++;
        ledger.open.delete(s);
        s.destroy();
      },
      ...extra,
    },
  };
}

/** Resolves with the rejection of a future/promise, failing if it resolves. */
async function rejection(aw) {
  try {
    const v = await aw;
    assert.fail(`expected a rejection, got ${v}`);
  } catch (err) {
    return err;
  }
}

function once(pool, event, predicate = () => true) {
  return new Promise((resolve) => {
    const listener = (...args) => {
      if (!predicate(...args)) return;
      pool.off(event, listener);
      resolve(args);
    };
    pool.on(event, listener);
  });
}

let srv;
test.before(async () => {
  srv = await startServer();
});
test.after(async () => {
  await srv.close();
});

test('acquire hands out a connected socket; release makes it idle and it is reused', async () => {
  await run(async () => {
    const { options, ledger } = tcpOptions(srv.port);
    const pool = new Pool(options);
    const fut = pool.acquire();
    assert.equal(typeof fut.cancel, 'function', 'acquire returns a Future');
    assert.equal(typeof fut[Symbol.iterator], 'function');
    const s = await fut;
    assert.ok(s instanceof net.Socket && !s.destroyed);
    assert.deepEqual([pool.size, pool.idle, pool.inUse, pool.pending], [1, 0, 1, 0]);
    pool.release(s);
    assert.deepEqual([pool.size, pool.idle, pool.inUse], [1, 1, 0]);
    const again = await pool.acquire();
    assert.equal(again, s);
    assert.equal(ledger.created, 1);
    pool.release(again);
    pool.close();
    await pool.waitClosed();
    assert.equal(ledger.open.size, 0);
  });
});

test('acquire can be yield*-ed from a generator coroutine', async () => {
  const result = await run(function* () {
    const { options } = tcpOptions(srv.port);
    const pool = new Pool(options);
    const s = yield* pool.acquire();
    const idleFirst = pool.idle;
    pool.release(s);
    const again = yield* pool.acquire();
    pool.release(again);
    pool.close();
    yield* pool.waitClosed();
    return [again === s, idleFirst];
  });
  assert.deepEqual(result, [true, 0]);
});

test('at max, acquires wait in FIFO order and size never exceeds max', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 2 });
    const pool = new Pool(options);
    let maxSeen = 0;
    pool.on('create', () => (maxSeen = Math.max(maxSeen, pool.size)));
    const a = await pool.acquire();
    const b = await pool.acquire();
    const order = [];
    const w1 = pool.acquire().then((s) => (order.push(1), s));
    const w2 = pool.acquire().then((s) => (order.push(2), s));
    const w3 = pool.acquire().then((s) => (order.push(3), s));
    assert.equal(pool.pending, 3);
    assert.equal(pool.size, 2);
    pool.release(b);
    assert.equal(await w1, b);
    pool.release(a);
    assert.equal(await w2, a);
    pool.release(b);
    assert.equal(await w3, b);
    assert.deepEqual(order, [1, 2, 3]);
    assert.ok(maxSeen <= 2);
    assert.equal(pool.stats().created, 2);
    pool.release(a);
    pool.release(b);
    pool.close();
  });
});

test('an acquire that times out while waiting fails with TimeoutError and never gets a connection later', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1 });
    const pool = new Pool(options);
    const held = await pool.acquire();
    const late = pool.acquire({ timeout: 10 });
    const err = await rejection(late);
    assert.ok(err instanceof TimeoutError);
    assert.equal(pool.pending, 0);
    pool.release(held);
    assert.deepEqual([pool.idle, pool.inUse], [1, 0], 'the released connection went idle, not to the timed-out acquire');
    assert.equal(pool.stats().timeouts, 1);
    pool.close();
  });
});

test('acquireTimeout is the default timeout of acquire', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1, acquireTimeout: 5 });
    const pool = new Pool(options);
    const held = await pool.acquire();
    assert.ok((await rejection(pool.acquire())) instanceof TimeoutError);
    pool.release(held);
    pool.close();
  });
});

test('an acquire aborted by its signal is cancelled with the reason and never gets a connection later', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1 });
    const pool = new Pool(options);
    const held = await pool.acquire();
    const ac = new AbortController();
    const fut = pool.acquire({ signal: ac.signal });
    assert.equal(pool.pending, 1);
    ac.abort(new Error('user went away'));
    const err = await rejection(fut);
    assert.ok(err instanceof CancelledError);
    assert.ok(fut.cancelled());
    assert.match(String(err.message), /user went away/);
    assert.equal(pool.pending, 0);
    pool.release(held);
    assert.deepEqual([pool.idle, pool.inUse], [1, 0]);

    const already = pool.acquire({ signal: AbortSignal.abort('too late') });
    assert.ok(already.cancelled(), 'an already-aborted signal cancels before waiting');
    assert.deepEqual([pool.idle, pool.inUse], [1, 0]);
    pool.close();
  });
});

test('a waiting acquire whose future is cancelled is skipped by the next release', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1 });
    const pool = new Pool(options);
    const held = await pool.acquire();
    const first = pool.acquire();
    const second = pool.acquire();
    first.cancel();
    // Released before the cancelled future's done callbacks have run: it must still be skipped.
    pool.release(held);
    assert.equal(await second, held);
    assert.ok(first.cancelled());
    assert.deepEqual([pool.inUse, pool.pending], [1, 0]);
    pool.release(held);
    pool.close();
  });
});

test('cancelling a task that waits in use() leaks nothing', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1 });
    const pool = new Pool(options);
    const held = await pool.acquire();
    let ran = false;
    const queued = once(pool, 'acquire-wait');
    const task = pool.use(() => {
      ran = true;
    });
    await queued;
    assert.equal(pool.pending, 1);
    task.cancel();
    assert.ok((await rejection(task)) instanceof CancelledError);
    pool.release(held);
    assert.equal(ran, false);
    assert.deepEqual([pool.idle, pool.inUse, pool.pending], [1, 0, 0]);
    pool.close();
  });
});

test('releasing twice or releasing a foreign object is an ERR_POOL_NOT_ACQUIRED error', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port);
    const pool = new Pool(options);
    const s = await pool.acquire();
    pool.release(s);
    assert.throws(() => pool.release(s), { code: 'ERR_POOL_NOT_ACQUIRED' });
    assert.throws(() => pool.release({}), { code: 'ERR_POOL_NOT_ACQUIRED' });
    assert.throws(() => pool.destroy(new net.Socket()), { code: 'ERR_POOL_NOT_ACQUIRED' });
    assert.deepEqual([pool.size, pool.idle, pool.inUse], [1, 1, 0], 'the books are unchanged by the bad calls');
    pool.close();
  });
});

test('destroy closes a held connection and frees its slot for a waiter', async () => {
  await run(async () => {
    const { options, ledger } = tcpOptions(srv.port, { max: 1 });
    const pool = new Pool(options);
    const s = await pool.acquire();
    const waiter = pool.acquire();
    pool.destroy(s);
    assert.ok(s.destroyed);
    const fresh = await waiter;
    assert.notEqual(fresh, s);
    assert.equal(ledger.created, 2);
    assert.equal(pool.size, 1);
    pool.release(fresh);
    pool.close();
  });
});

test('validate drops an idle connection the server closed and hands out the next one', async () => {
  await run(async () => {
    const { options, ledger } = tcpOptions(srv.port, {
      max: 3,
      validate: (s) => !s.destroyed && s.readyState === 'open' && !s.readableEnded,
    });
    const pool = new Pool(options);
    const a = await pool.acquire();
    const b = await pool.acquire();
    pool.release(a);
    pool.release(b); // idle stack: a, b (b on top, handed out first)
    // The server drops b's connection; wait until the client has seen the end.
    const ended = new Promise((resolve) => b.once('end', resolve));
    b.resume();
    const peer = [...srv.sockets].find((p) => p.remotePort === b.localPort);
    peer.end();
    await ended;
    const destroyed = once(pool, 'destroy');
    const got = await pool.acquire();
    assert.equal(got, a);
    const [conn, reason] = await destroyed;
    assert.equal(conn, b);
    assert.equal(reason, 'invalid');
    assert.equal(ledger.destroyed, 1);
    pool.release(got);
    pool.close();
  });
});

test('an async validate is awaited; an invalid verdict or a throw destroys the connection', async () => {
  await run(async () => {
    const verdicts = [];
    const { options, ledger } = tcpOptions(srv.port, {
      max: 1,
      validate: () => {
        const v = verdicts.shift();
        if (v === 'throw') throw new Error('validate blew up');
        return Promise.resolve(v);
      },
    });
    const pool = new Pool(options);
    const first = await pool.acquire();
    pool.release(first);
    verdicts.push(true);
    assert.equal(await pool.acquire(), first);
    pool.release(first);
    verdicts.push(false);
    const second = await pool.acquire();
    assert.notEqual(second, first);
    assert.ok(first.destroyed);
    pool.release(second);
    verdicts.push('throw');
    const third = await pool.acquire();
    assert.ok(second.destroyed);
    assert.equal(ledger.created, 3);
    assert.ok(pool.size <= 1);
    pool.release(third);
    pool.close();
  });
});

test('min connections are opened at once and replaced when destroyed', async () => {
  await run(async () => {
    const { options, ledger } = tcpOptions(srv.port, { max: 4, min: 2 });
    const created = [];
    const pool = new Pool(options);
    assert.equal(pool.size, 2, 'two creates are under way at once');
    pool.on('create', (s) => created.push(s));
    await new Promise((resolve) => pool.on('create', () => created.length === 2 && resolve()));
    assert.equal(pool.idle, 2);
    const s = await pool.acquire();
    const replaced = once(pool, 'create');
    pool.destroy(s);
    await replaced;
    assert.deepEqual([pool.size, pool.idle], [2, 2]);
    assert.equal(ledger.created, 3);
    pool.close();
  });
});

test('a failing create is retried with back-off and then succeeds', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port);
    const deadPort = await refusedPort();
    let calls = 0;
    const attempts = [];
    const pool = new Pool({
      ...options,
      retries: 3,
      retryDelay: 1,
      create: () => (++calls <= 2 ? connect(deadPort) : options.create()),
    });
    pool.on('create-error', (err, attempt) => attempts.push([err.code, attempt]));
    const s = await pool.acquire();
    assert.ok(!s.destroyed);
    assert.equal(calls, 3);
    assert.deepEqual(attempts, [['ECONNREFUSED', 0], ['ECONNREFUSED', 1]]);
    pool.release(s);
    pool.close();
  });
});

test('a create that always fails makes every waiting acquire fail with its error, without spinning', async () => {
  await run(async () => {
    const deadPort = await refusedPort();
    let calls = 0;
    const pool = new Pool({
      max: 2,
      retries: 2,
      retryDelay: 1,
      create: () => {
        calls++;
        return connect(deadPort);
      },
    });
    const results = await Promise.allSettled([pool.acquire(), pool.acquire(), pool.acquire(), pool.acquire()]);
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal(r.reason.code, 'ECONNREFUSED');
    }
    assert.equal(calls, 4 * 3, 'each acquire got one create with two retries, no more');
    assert.deepEqual([pool.size, pool.pending], [0, 0]);
    const sync = new Pool({
      max: 1,
      create: () => {
        throw Object.assign(new Error('no'), { code: 'EACCES' });
      },
    });
    assert.equal((await rejection(sync.acquire())).code, 'EACCES');
    pool.close();
    sync.close();
  });
});

test('a min that cannot be created backs off instead of retrying in a tight loop', async () => {
  await run(async () => {
    const deadPort = await refusedPort();
    let calls = 0;
    const pool = new Pool({
      max: 2,
      min: 1,
      retryDelay: 1,
      maxRetryDelay: 4,
      create: () => {
        calls++;
        return connect(deadPort);
      },
    });
    const errors = [];
    await new Promise((resolve) =>
      pool.on('create-error', (err) => {
        errors.push(err.code);
        if (errors.length === 4) resolve();
      }),
    );
    pool.close();
    const before = calls;
    assert.equal(before, 4);
    assert.equal(pool.size, 0);
    // After close no create starts: the back-off timer was cancelled.
    await rejection(pool.acquire());
    assert.equal(calls, before);
  });
});

test('close destroys idle at once, in-use on release, fails waiters and later acquires', async () => {
  await run(async () => {
    const { options, ledger } = tcpOptions(srv.port, { max: 2 });
    const pool = new Pool(options);
    const a = await pool.acquire();
    const b = await pool.acquire();
    pool.release(a);
    const b2 = await pool.acquire();
    assert.equal(b2, a);
    pool.release(b2);
    const waiterPool = new Pool(tcpOptions(srv.port, { max: 1 }).options);
    const held = await waiterPool.acquire();
    const waiting = waiterPool.acquire();
    waiterPool.close();
    assert.equal((await rejection(waiting)).code, 'ERR_POOL_CLOSED');
    waiterPool.release(held);
    assert.ok(held.destroyed);

    let closedEvent = false;
    pool.on('close', () => (closedEvent = true));
    pool.close();
    assert.ok(closedEvent);
    assert.ok(a.destroyed, 'idle destroyed at once');
    assert.ok(!b.destroyed, 'in-use kept until released');
    const err = await rejection(pool.acquire());
    assert.equal(err.code, 'ERR_POOL_CLOSED');
    const closed = pool.waitClosed();
    assert.ok(!closed.done());
    pool.release(b);
    assert.ok(b.destroyed);
    await closed;
    assert.equal(pool.size, 0);
    assert.equal(ledger.open.size, 0);
    assert.equal(ledger.createCalls, 2);
  });
});

test('close does not keep creating: a create in flight is destroyed when it lands', async () => {
  await run(async () => {
    const { options, ledger } = tcpOptions(srv.port, { max: 3 });
    const pool = new Pool(options);
    const waiting = pool.acquire();
    assert.equal(pool.size, 1, 'a create is under way');
    pool.close();
    assert.equal((await rejection(waiting)).code, 'ERR_POOL_CLOSED');
    await pool.waitClosed();
    assert.equal(ledger.createCalls, 1);
    assert.equal(ledger.open.size, 0);
    assert.equal(ledger.destroyed, ledger.created);
  });
});

test('idle connections past idleTimeout are closed, never below min', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 3, min: 1, idleTimeout: 5 });
    const pool = new Pool(options);
    const conns = [await pool.acquire(), await pool.acquire(), await pool.acquire()];
    const reasons = [];
    const twoReaped = new Promise((resolve) =>
      pool.on('destroy', (_s, reason) => {
        reasons.push(reason);
        if (reasons.length === 2) resolve();
      }),
    );
    for (const s of conns) pool.release(s);
    await twoReaped;
    assert.deepEqual(reasons, ['idleTimeout', 'idleTimeout']);
    assert.deepEqual([pool.size, pool.idle], [1, 1]);
    // The one kept is the most recently used; the bottom of the idle stack went first.
    assert.ok(conns[0].destroyed && conns[1].destroyed && !conns[2].destroyed);
    pool.close();
  });
});

test('a connection past maxLifetime is closed when released instead of going idle', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1, maxLifetime: 5 });
    const pool = new Pool(options);
    const s = await pool.acquire();
    await new Promise((resolve) => s.setTimeout(10, resolve)); // the connection's own age, by a real socket timer
    const destroyed = once(pool, 'destroy');
    pool.release(s);
    const [conn, reason] = await destroyed;
    assert.equal(conn, s);
    assert.equal(reason, 'maxLifetime');
    assert.equal(pool.idle, 0);
    pool.close();
  });
});

test('use() runs async and generator functions, resolves to their result, releases in finally', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1 });
    const pool = new Pool(options);
    const fromAsync = await pool.use(async (s) => {
      assert.equal(pool.inUse, 1);
      return s.remotePort;
    });
    assert.equal(fromAsync, srv.port);
    assert.equal(pool.inUse, 0);
    const fromGen = await pool.use(function* (s) {
      let v = 'unexpected';
      try {
        yield* pool.acquire({ timeout: 1 });
      } catch (e) {
        v = e.name;
      }
      return [s.localPort > 0, v];
    });
    assert.deepEqual(fromGen, [true, 'TimeoutError']);
    const boom = await rejection(
      pool.use(async () => {
        throw new Error('boom');
      }),
    );
    assert.equal(boom.message, 'boom');
    assert.deepEqual([pool.idle, pool.inUse], [1, 0]);
    assert.equal(await pool.use((s) => (pool.destroy(s), 'destroyed inside')), 'destroyed inside');
    assert.deepEqual([pool.size, pool.inUse], [0, 0]);
    pool.close();
  });
});

test('cancelling use() while its async fn still runs keeps the connection out until fn settles', async () => {
  await run(async () => {
    const { options } = tcpOptions(srv.port, { max: 1 });
    const pool = new Pool(options);
    let open;
    const gate = new Promise((resolve) => (open = resolve));
    let inside;
    const entered = new Promise((resolve) => (inside = resolve));
    const task = pool.use(async (s) => {
      inside();
      await gate;
      return s;
    });
    await entered;
    task.cancel();
    assert.ok((await rejection(task)) instanceof CancelledError);
    assert.deepEqual([pool.inUse, pool.idle], [1, 0], 'not handed back while fn may still use it');
    const released = once(pool, 'release');
    open();
    await released;
    assert.deepEqual([pool.inUse, pool.idle], [0, 1]);
    pool.close();
  });
});

test('events report create, destroy and acquire-wait; a throwing listener does not break the pool', async () => {
  await run(async () => {
    const lines = [];
    const { createLogger } = require('evloop');
    const logger = createLogger({ sink: (line) => lines.push(line) });
    const { options } = tcpOptions(srv.port, { max: 1, logger });
    const pool = new Pool(options);
    const seen = [];
    pool.on('create', () => seen.push('create'));
    pool.on('create', () => {
      throw new Error('listener bug');
    });
    pool.on('acquire-wait', (n) => seen.push(`wait ${n}`));
    pool.on('destroy', (_s, reason) => seen.push(`destroy ${reason}`));
    const s = await pool.acquire();
    const w = pool.acquire();
    pool.destroy(s);
    pool.release(await w);
    pool.close();
    // The first acquire waits too: for its connection to be created.
    assert.deepEqual(seen, ['wait 1', 'create', 'wait 1', 'destroy destroyed', 'create', 'destroy closed']);
    assert.ok(lines.some((l) => l.includes('pool event listener threw') && l.includes('listener bug')));
    assert.throws(() => pool.on('nope', () => {}), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  });
});

test('bad options and arguments are rejected with coded errors', async () => {
  const create = () => ({});
  assert.throws(() => new Pool(), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Pool({ max: 1 }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Pool({ create, max: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Pool({ create, max: 1.5 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Pool({ create, max: 2, min: 3 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Pool({ create, max: 2, retries: -1 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Pool({ create, max: 2, idleTimeout: 0 }), { code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => new Pool({ create, max: 2, acquireTimeout: 'soon' }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Pool({ create, max: 2, validate: true }), { code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Pool({ create, max: 2, logger: 42 }), { code: 'ERR_INVALID_ARG_TYPE' });
  const outside = new Pool({ create, max: 1 });
  assert.throws(() => outside.acquire(), (err) => err instanceof Error, 'acquire needs a running loop');
  await run(async () => {
    const pool = new Pool({ create, max: 1 });
    assert.throws(() => pool.acquire({ timeout: -1 }), { code: 'ERR_OUT_OF_RANGE' });
    assert.throws(() => pool.acquire({ signal: {} }), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => pool.acquire(5), { code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => pool.use('fn'), { code: 'ERR_INVALID_ARG_TYPE' });
    const conn = await pool.acquire();
    pool.release(conn);
    pool.close();
  });
});

test('a pool outlives one run() and serves the next', async () => {
  const { options, ledger } = tcpOptions(srv.port, { max: 1 });
  const pool = new Pool(options);
  const first = await run(async () => {
    const s = await pool.acquire();
    pool.release(s);
    return s;
  });
  const second = await run(async () => {
    const s = await pool.acquire();
    pool.release(s);
    return s;
  });
  assert.equal(first, second);
  assert.equal(ledger.created, 1);
  await run(async () => {
    pool.close();
    await pool.waitClosed();
  });
  assert.equal(ledger.open.size, 0);
});

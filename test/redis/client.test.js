'use strict';
// The Redis client against a real redis-server started on a free loopback port for this file:
// replies of every shape, pipelining, server errors, scripts, AUTH/SELECT, time-outs, lost
// connections (killed clients, a killed and restarted server), and bad input.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { run, createRedisClient, createLogger, RedisClient, RedisError, TimeoutError, sleep } = require('evloop');
const { RedisServer, startRedisServer } = require('../helpers/redis-server');

let server;
test.before(async () => {
  server = await startRedisServer({ extraArgs: ['--enable-debug-command', 'yes'] });
});
test.after(() => server.stop());

test('replies of every shape, and Buffers in and out', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    assert.equal(await c.set('shape:s', 'héllo'), 'OK');
    assert.equal(await c.get('shape:s'), 'héllo');
    assert.equal(await c.get('shape:missing'), null);
    assert.equal(await c.incrby('shape:n', 41), 41);
    await c.rpush('shape:l', 'a', 'b', 'c');
    assert.deepEqual(await c.lrange('shape:l', 0, -1), ['a', 'b', 'c']);
    assert.deepEqual(await c.call('EVAL', 'return {1, "two", {3}}', 0), [1, 'two', [3]]);
    const bin = Buffer.from([0, 1, 13, 10, 255]);
    await c.set('shape:bin', bin);
    const b = createRedisClient({ url: server.url, returnBuffers: true });
    assert.deepEqual(await b.get('shape:bin'), bin);
    assert.equal(await c.strlen('shape:bin'), 5);
    const big = 'x'.repeat(3 * 1024 * 1024);
    await c.set('shape:big', big);
    assert.equal(await c.get('shape:big'), big);
    await c.close();
    await b.close();
  });
});

test('pipelining: thousands of commands in flight from many callers, replies in order', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    await c.del('pipe:n');
    const futures = [];
    for (let i = 0; i < 20_000; i++) futures.push(c.incr('pipe:n'));
    const replies = await Promise.all(futures);
    replies.forEach((r, i) => assert.equal(r, i + 1));
    // Concurrent callers, each sequential.
    const seen = await Promise.all(Array.from({ length: 64 }, async (_, w) => {
      for (let i = 0; i < 50; i++) {
        await c.set(`pipe:w${w}`, i);
        assert.equal(await c.get(`pipe:w${w}`), String(i));
      }
      return w;
    }));
    assert.equal(seen.length, 64);
    await c.close();
  });
});

test('server errors are RedisErrors with Redis\'s message and code; the connection goes on', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    await c.set('err:s', 'v');
    const wrongType = c.hget('err:s', 'f');
    const after = c.get('err:s');
    await assert.rejects(wrongType, (err) => {
      assert.ok(err instanceof RedisError);
      assert.equal(err.code, 'WRONGTYPE');
      assert.match(err.message, /^WRONGTYPE Operation against a key holding the wrong kind of value/);
      return true;
    });
    assert.equal(await after, 'v');
    await assert.rejects(c.call('NOSUCHCOMMAND'), { name: 'RedisError', code: 'ERR', message: /unknown command/ });
    // Errors inside a reply stay values: EXEC's array carries them.
    const exec = await c.multi([['INCR', 'err:s'], ['SET', 'err:t', 1]]);
    assert.ok(exec[0] instanceof RedisError);
    assert.equal(exec[1], 'OK');
    await c.close();
  });
});

test('scripts: EVALSHA, EVAL again after NOSCRIPT, Lua errors as RedisErrors', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    const s = c.defineScript("redis.call('INCR', KEYS[1]); return ARGV[1] .. redis.call('GET', KEYS[1])");
    assert.match(s.sha, /^[0-9a-f]{40}$/);
    await c.del('lua:n');
    assert.equal(await s.run(['lua:n'], ['n=']), 'n=1'); // NOSCRIPT, then EVAL
    assert.equal(await s.run(['lua:n'], ['n=']), 'n=2'); // EVALSHA
    await c.call('SCRIPT', 'FLUSH');
    const again = await Promise.all([s.run(['lua:n'], ['a']), s.run(['lua:n'], ['b'])]);
    assert.deepEqual(again, ['a3', 'b4']);
    const bad = c.defineScript("return redis.call('NOPE')");
    await assert.rejects(bad.run(), (err) => err instanceof RedisError && /Unknown Redis command/i.test(err.message));
    await c.close();
  });
});

test('scripts: a cold burst loads the script once, no EVAL round trip per call', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    const calls = async (name) => Number((new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(await c.info('commandstats')) ?? [0, 0])[1]);
    const [eval0, evalsha0] = [await calls('eval'), await calls('evalsha')];
    const s = c.defineScript(`return ARGV[1] .. '${Math.random()}'`);
    const out = await Promise.all(Array.from({ length: 100 }, (_, i) => s.run([], [i])));
    assert.equal(out.length, 100);
    assert.equal(await calls('eval'), eval0);
    assert.equal(await calls('evalsha'), evalsha0 + 100);
    await c.close();
  });
});

test('AUTH and SELECT from the URL; a wrong password fails every command with the server\'s error', async () => {
  const secured = await startRedisServer({ password: 'pa:ss@word' });
  try {
    await run(async () => {
      const url = `redis://:${encodeURIComponent('pa:ss@word')}@127.0.0.1:${secured.port}`;
      const db3 = createRedisClient(`${url}/3`);
      const db0 = createRedisClient(url);
      await db3.set('where', 'three');
      assert.equal(await db3.get('where'), 'three');
      assert.equal(await db0.get('where'), null);
      const user = createRedisClient(`redis://default:${encodeURIComponent('pa:ss@word')}@127.0.0.1:${secured.port}/3`);
      assert.equal(await user.get('where'), 'three');
      const wrong = createRedisClient(`redis://:nope@127.0.0.1:${secured.port}/3`);
      const [a, b] = [wrong.get('where'), wrong.set('where', 'x')];
      await assert.rejects(a, { name: 'RedisError', code: 'WRONGPASS' });
      await assert.rejects(b, { name: 'RedisError', code: 'WRONGPASS' });
      const none = createRedisClient(`redis://127.0.0.1:${secured.port}`);
      await assert.rejects(none.get('where'), { name: 'RedisError', code: 'NOAUTH' });
      assert.equal(await db3.get('where'), 'three');
      await Promise.all([db3.close(), db0.close(), user.close(), wrong.close(), none.close()]);
    });
  } finally {
    await secured.stop();
  }
});

test('a Unix socket by path (options.path and unix:// URLs)', async () => {
  const path = require('node:path');
  const s = new RedisServer({ extraArgs: [] });
  const sock = path.join(s.dir, 'redis.sock');
  s.extraArgs = ['--unixsocket', sock, '--unixsocketperm', '700'];
  await s.start();
  try {
    await run(async () => {
      const a = createRedisClient({ path: sock, db: 2 });
      const b = createRedisClient(`unix://${sock}?db=2`);
      await a.set('unix:k', 'via socket');
      assert.equal(await b.get('unix:k'), 'via socket');
      const info = await b.call('CLIENT', 'INFO');
      assert.match(info, /redis\.sock/);
      assert.match(info, / db=2 /);
      await Promise.all([a.close(), b.close()]);
    });
  } finally {
    await s.stop();
  }
});

test('RESP3 (protocol: 3): maps, doubles and booleans arrive typed', async () => {
  await run(async () => {
    const c = createRedisClient({ url: server.url, protocol: 3 });
    await c.hset('r3:h', 'a', 1, 'b', 2);
    assert.deepEqual(await c.hgetall('r3:h'), { a: '1', b: '2' });
    await c.zadd('r3:z', 1.5, 'm');
    assert.equal(await c.zscore('r3:z', 'm'), 1.5);
    assert.equal(await c.call('EVAL', 'redis.setresp(3); return true', 0), true);
    await c.close();
  });
});

test('per-command time-out: TimeoutError, and later replies still go to the right commands', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    await c.set('to:k', 'v');
    const slow = c.send(['DEBUG', 'SLEEP', '0.2'], { timeout: 30 });
    const next = c.get('to:k');
    await assert.rejects(slow, (err) => err instanceof TimeoutError && /DEBUG timed out after 30 ms/.test(err.message));
    assert.equal(await next, 'v');
    assert.equal(await c.ping(), 'PONG');
    // The client-wide default, against a server that accepts and never answers.
    const mute = net.createServer((s) => s.resume()); // reads (and so sees EOF), never answers
    await new Promise((resolve) => mute.listen(0, '127.0.0.1', resolve));
    const m = createRedisClient({ port: mute.address().port, commandTimeout: 40 });
    await assert.rejects(m.get('x'), { name: 'TimeoutError', code: 'ERR_TIMEOUT' });
    await m.close(); // nobody waits for the reply owed to the timed-out command: closes at once
    await new Promise((resolve) => mute.close(resolve));
    await c.close();
  });
});

test('a killed connection fails its pending replies with ERR_REDIS_CONNECTION_LOST and is replaced', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    const id = await c.call('CLIENT', 'ID');
    const blocked = c.call('BLPOP', 'lost:never', 0);
    const behind = c.get('lost:k');
    const admin = createRedisClient(server.url);
    assert.equal(await admin.call('CLIENT', 'KILL', 'ID', id), 1);
    for (const f of [blocked, behind]) {
      await assert.rejects(f, (err) => {
        assert.equal(err.name, 'RedisConnectionError');
        assert.equal(err.code, 'ERR_REDIS_CONNECTION_LOST');
        assert.match(err.message, /Redis connection lost: .*2 replies owed/);
        return true;
      });
    }
    assert.equal(await c.set('lost:k', 'back'), 'OK');
    assert.notEqual(await c.call('CLIENT', 'ID'), id);
    await c.close();
    await admin.close();
  });
});

test('dedicated connections: a blocking command does not hold up the shared connection', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    await c.del('ded:l');
    const popped = c.use(async (conn) => conn.call('BLPOP', 'ded:l', 5));
    assert.equal(await c.ping(), 'PONG');
    await c.rpush('ded:l', 'item');
    assert.deepEqual(await popped, ['ded:l', 'item']);
    // abort() is the way out of a blocking command; the next use() gets a fresh connection.
    const aborted = c.use(async (conn) => {
      const blocked = conn.call('BLPOP', 'ded:never', 0);
      conn.abort();
      return blocked;
    });
    await assert.rejects(aborted, { name: 'RedisConnectionError', code: 'ERR_REDIS_CLOSED' });
    const viaGen = await c.use(function* (conn) {
      return yield* conn.send(['ECHO', 'gen']);
    });
    assert.equal(viaGen, 'gen');
    await c.close();
  });
});

test('cancelling a pending command drops its reply, not the ones after it', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    const a = c.call('DEBUG', 'SLEEP', '0.05');
    const b = c.echo('b');
    a.cancel();
    assert.equal(await b, 'b');
    assert.equal(a.cancelled(), true);
    await c.close();
  });
});

test('close(): replies owed are answered, later commands fail with ERR_REDIS_CLOSED', async () => {
  await run(async () => {
    const c = createRedisClient(server.url);
    const owed = [c.set('close:k', 1), c.call('DEBUG', 'SLEEP', '0.02'), c.get('close:k')];
    const closing = c.close();
    assert.deepEqual(await Promise.all(owed), ['OK', 'OK', '1']);
    await closing;
    await assert.rejects(c.get('close:k'), { name: 'RedisConnectionError', code: 'ERR_REDIS_CLOSED' });
    assert.throws(() => c.use(() => 1), { code: 'ERR_REDIS_CLOSED' });
  });
});

test('no server: ECONNREFUSED for the commands waiting on the connection, then a new try', async () => {
  const gone = new RedisServer();
  await gone.start();
  const port = gone.port;
  await gone.stop();
  await run(async () => {
    const c = createRedisClient({ port });
    const [a, b] = [c.get('x'), c.get('y')];
    await assert.rejects(a, { code: 'ECONNREFUSED' });
    await assert.rejects(b, { code: 'ECONNREFUSED' });
    await assert.rejects(c.get('z'), { code: 'ECONNREFUSED' });
    // Failed connects leave no fd behind.
    const fds = () => require('node:fs').readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 50; i++) await assert.rejects(c.get('z'), { code: 'ECONNREFUSED' });
    assert.equal(fds(), before);
    await c.close();
  });
});

test('redis-server killed and restarted mid-flight: pending commands fail clearly, the client reconnects, appendonly data survives', async () => {
  const fds = () => require('node:fs').readdirSync('/proc/self/fd').length;
  const fdsBefore = fds();
  const s = await startRedisServer({ appendonly: true });
  try {
    await run(async () => {
      const c = createRedisClient({ url: s.url, connectTimeout: 2000 });
      await c.set('restart:kept', 'yes');
      // Load from 16 callers while the server goes down and comes back; `reached(n)` resolves
      // once n more commands have succeeded (progress, not time, moves the test on).
      let stop = false;
      const outcomes = { ok: 0, lost: 0, refused: 0, loading: 0, other: [] };
      let goal = Infinity;
      let onGoal = null;
      const reached = (more) => new Promise((resolve) => {
        goal = outcomes.ok + more;
        onGoal = resolve;
      });
      const callers = Array.from({ length: 16 }, async (_, w) => {
        while (!stop) {
          try {
            await c.incr(`restart:w${w}`);
            if (++outcomes.ok === goal) onGoal();
          } catch (err) {
            if (err.code === 'ERR_REDIS_CONNECTION_LOST') outcomes.lost++;
            else if (err.code === 'ECONNREFUSED') outcomes.refused++;
            else if (err.code === 'LOADING') outcomes.loading++; // the server answers before its data is back
            else outcomes.other.push(err);
            await sleep(1); // back-off while the server is away
          }
        }
      });
      await reached(2000);
      await s.restart({ signal: 'SIGTERM' }); // appendonly: the server syncs its file on SIGTERM
      await reached(2000);
      await s.kill('SIGKILL');
      await s.start();
      await reached(2000);
      stop = true;
      await Promise.all(callers);
      assert.deepEqual(outcomes.other, []);
      assert.ok(outcomes.lost + outcomes.refused > 0, 'some commands saw the server go');
      assert.equal(await c.get('restart:kept'), 'yes');
      await c.close();
    });
  } finally {
    await s.stop();
  }
  // Every connection lost or refused along the way was closed, and so was the loop.
  assert.equal(fds(), fdsBefore);
});

test('logger: an outage is told once when it starts and once when it ends, however many connections and tries fail', async () => {
  const s = await startRedisServer();
  const lines = [];
  const logger = createLogger({ sink: (line, level) => lines.push({ line, level }) });
  try {
    await run(async () => {
      const c = createRedisClient({ url: s.url, logger });
      // A shared connection and a dedicated one (blocked in BLPOP) both go down with the server.
      await c.set('log:k', 1);
      const blocked = c.use((conn) => conn.call('BLPOP', 'log:never', 0));
      await c.call('PING');
      assert.deepEqual(lines, [], 'nothing to tell while Redis answers');
      await s.kill('SIGKILL');
      await assert.rejects(blocked, { code: 'ERR_REDIS_CONNECTION_LOST' });
      for (let i = 0; i < 20; i++) await assert.rejects(c.get('log:k'), { code: 'ECONNREFUSED' });
      await assert.rejects(c.use((conn) => conn.call('PING')), { code: 'ECONNREFUSED' });
      await s.start();
      assert.equal(await c.call('PING'), 'PONG');
      assert.equal(await c.use((conn) => conn.call('PING')), 'PONG');
      // A second outage is news again.
      await s.kill('SIGKILL');
      await assert.rejects(c.get('log:k'), { code: /ECONNREFUSED|ERR_REDIS_CONNECTION_LOST/ });
      await s.start();
      assert.equal(await c.call('PING'), 'PONG');
      await c.close(); // a close of ours is no outage
    });
    const told = lines.map((l) => `${l.level} ${/(Redis connection \w+)/.exec(l.line)?.[1]}`);
    assert.deepEqual(told, ['warn Redis connection lost', 'info Redis connection back', 'warn Redis connection lost', 'info Redis connection back']);
    assert.match(lines[0].line, /ERR_REDIS_CONNECTION_LOST.*127\.0\.0\.1:\d+/);
    assert.match(lines[1].line, /back, after \d+ ms: 127\.0\.0\.1:\d+/);
  } finally {
    await s.stop();
  }
  // Never reached at all: "failed" (once), not "lost".
  lines.length = 0;
  await run(async () => {
    const c = createRedisClient({ port: s.port, logger });
    for (let i = 0; i < 3; i++) await assert.rejects(c.get('x'), { code: 'ECONNREFUSED' });
    await c.close();
  });
  assert.deepEqual(lines.map((l) => l.level), ['warn']);
  assert.match(lines[0].line, /Redis connection failed, Error \[ECONNREFUSED\]/);
  assert.throws(() => createRedisClient({ logger: 'stderr' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('URLs and options: user, password, host (IPv6 too), port, database, Unix path; options win over the URL', () => {
  assert.deepEqual({ ...createRedisClient('redis://user:p%40ss@[::1]:6380/4').options }, { host: '::1', port: 6380, username: 'user', password: 'p@ss', db: 4 });
  assert.deepEqual({ ...createRedisClient('redis://:secret@example.com').options }, { host: 'example.com', port: 6379, password: 'secret' });
  assert.deepEqual({ ...createRedisClient('redis://').options }, { host: '127.0.0.1', port: 6379 });
  assert.deepEqual({ ...createRedisClient('unix:///run/redis.sock?db=2').options }, { host: '127.0.0.1', port: 6379, path: '/run/redis.sock', db: 2 });
  assert.deepEqual({ ...createRedisClient({ url: 'redis://h:1/1', port: 2, db: 3, name: 'me', protocol: 3 }).options }, { host: 'h', port: 2, db: 3, name: 'me', protocol: 3 });
  assert.throws(() => createRedisClient('rediss://h'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE', message: /TLS/ });
});

test('bad input: TypeError / RangeError with a code, nothing sent', async () => {
  assert.throws(() => createRedisClient(42), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createRedisClient('http://x'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => createRedisClient('not a url'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => createRedisClient('redis://127.0.0.1/x'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => createRedisClient({ url: 5 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => createRedisClient({ port: 70000 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => createRedisClient({ db: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => createRedisClient({ protocol: 4 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => createRedisClient({ commandTimeout: -1 }), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
  assert.throws(() => createRedisClient({ password: 1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.ok(createRedisClient() instanceof RedisClient);
  await run(async () => {
    const c = createRedisClient(server.url);
    assert.throws(() => c.set('k', { a: 1 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => c.call('SET', 'k', null), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => c.call(), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => c.send(['GET', 'k'], { timeout: 'soon' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => c.multi('GET k'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => c.multi([['SET', 'tx:a', 1], ['SET', 'tx:b', {}]]), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => c.defineScript(''), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    assert.throws(() => c.use('fn'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    // The bad transaction was discarded as a whole; the connection is in a clean state.
    assert.equal(await c.get('tx:a'), null);
    assert.equal(await c.ping(), 'PONG');
    await c.close();
  });
});

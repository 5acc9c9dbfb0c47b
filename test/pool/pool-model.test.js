'use strict';
// Model-based test: random sequences of acquire / release / destroy / cancel / time-out /
// failing create, run against a real Pool of real TCP connections to 127.0.0.1 and checked,
// after every step, against a model a few lines long. Each step waits on the futures the model
// says must settle (never on time), so the pool is quiescent when it is compared.
const test = require('node:test');
const assert = require('node:assert/strict');
const net = require('net');
const fc = require('fast-check');
const { run, Pool, CancelledError, TimeoutError } = require('evloop');

const { connect } = require('../helpers/tcp-util');

async function settle(aw) {
  try {
    return { ok: true, value: await aw };
  } catch (err) {
    return { ok: false, err };
  }
}

const opArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ t: 'acquire' }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('release'), i: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('destroy'), i: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('cancel'), i: fc.nat(7), how: fc.constantFrom('signal', 'future') }) },
  { weight: 1, arbitrary: fc.constant({ t: 'timeout' }) },
  { weight: 2, arbitrary: fc.constant({ t: 'failNext' }) },
);

async function runScenario(port, deadPort, max, ops) {
  await run(async () => {
    const open = new Set();
    const plan = { failNext: false };
    let sizeViolations = 0;
    const pool = new Pool({
      max,
      async create() {
        const fail = plan.failNext;
        plan.failNext = false;
        const s = await connect(fail ? deadPort : port);
        open.add(s);
        return s;
      },
      destroy(s) {
        open.delete(s);
        s.destroy();
      },
    });
    for (const event of ['create', 'acquire', 'release', 'destroy', 'acquire-wait']) {
      pool.on(event, () => {
        if (pool.size > max) sizeViolations++;
      });
    }
    // The model: counts plus the FIFO of waiters; the harness keeps the real objects.
    const model = { idle: 0, failNext: false };
    const held = [];
    const waiters = [];

    const expectCreateFor = async (fut) => {
      const r = await settle(fut);
      if (model.failNext) {
        model.failNext = false;
        assert.ok(!r.ok, 'a failing create fails the acquire it serves');
        assert.equal(r.err.code, 'ECONNREFUSED');
        return false;
      }
      assert.ok(r.ok, `create succeeds: ${r.err}`);
      assert.ok(!held.includes(r.value), 'a fresh connection is not held by anyone');
      held.push(r.value);
      return true;
    };
    // A slot came free while acquires wait: creates serve them in order until one succeeds.
    const serveWaitersByCreate = async () => {
      while (waiters.length > 0) {
        const w = waiters.shift();
        if (await expectCreateFor(w.fut)) return;
      }
    };

    for (const op of ops) {
      switch (op.t) {
        case 'acquire': {
          const ac = new AbortController();
          const fut = pool.acquire({ signal: ac.signal });
          if (waiters.length === 0 && model.idle > 0) {
            model.idle--;
            const r = await settle(fut);
            assert.ok(r.ok);
            assert.ok(!held.includes(r.value), 'an idle connection is handed to one holder only');
            held.push(r.value);
          } else if (waiters.length === 0 && held.length + model.idle < max) {
            await expectCreateFor(fut);
          } else {
            waiters.push({ fut, ac });
          }
          break;
        }
        case 'release': {
          if (held.length === 0) break;
          const [conn] = held.splice(op.i % held.length, 1);
          pool.release(conn);
          if (waiters.length > 0) {
            const w = waiters.shift();
            const r = await settle(w.fut);
            assert.ok(r.ok);
            assert.equal(r.value, conn, 'a release goes straight to the oldest waiter');
            held.push(conn);
          } else {
            model.idle++;
          }
          break;
        }
        case 'destroy': {
          if (held.length === 0) break;
          const [conn] = held.splice(op.i % held.length, 1);
          pool.destroy(conn);
          assert.ok(conn.destroyed);
          await serveWaitersByCreate();
          break;
        }
        case 'cancel': {
          if (waiters.length === 0) break;
          const [w] = waiters.splice(op.i % waiters.length, 1);
          if (op.how === 'signal') w.ac.abort();
          else w.fut.cancel();
          const r = await settle(w.fut);
          assert.ok(!r.ok && r.err instanceof CancelledError, 'a cancelled acquire gets no connection');
          break;
        }
        case 'timeout': {
          if (held.length < max) break; // only meaningful when every connection is out
          const r = await settle(pool.acquire({ timeout: 1 }));
          assert.ok(!r.ok && r.err instanceof TimeoutError, 'a timed-out acquire gets no connection');
          break;
        }
        case 'failNext':
          model.failNext = plan.failNext = true;
          break;
      }
      assert.equal(pool.inUse, held.length, `inUse after ${op.t}`);
      assert.equal(pool.idle, model.idle, `idle after ${op.t}`);
      assert.equal(pool.pending, waiters.length, `pending after ${op.t}`);
      assert.equal(pool.size, held.length + model.idle, `size after ${op.t}`);
      assert.ok(pool.size <= max);
      assert.equal(open.size, pool.size, 'every open socket is accounted for');
      for (const s of held) assert.ok(!s.destroyed && pool.isAcquired(s));
      assert.equal(new Set(held).size, held.length);
    }

    pool.close();
    for (const w of waiters) {
      const r = await settle(w.fut);
      assert.equal(r.err.code, 'ERR_POOL_CLOSED');
    }
    for (const s of held) pool.release(s);
    await pool.waitClosed();
    assert.equal(open.size, 0, 'close destroyed every connection');
    assert.equal(sizeViolations, 0, 'size never exceeded max');
  });
}

test('random acquire/release/destroy/cancel/timeout/failing-create sequences match the model', async () => {
  const sockets = new Set();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dead = net.createServer();
  await new Promise((resolve) => dead.listen(0, '127.0.0.1', resolve));
  const deadPort = dead.address().port;
  await new Promise((resolve) => dead.close(resolve));
  try {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.array(opArb, { maxLength: 30 }), (max, ops) =>
        runScenario(server.address().port, deadPort, max, ops),
      ),
      { numRuns: 100 },
    );
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

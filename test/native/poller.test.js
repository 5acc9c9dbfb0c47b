'use strict';
// The native Poller, one suite run against every backend this platform has.
const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const { spawnSync } = require('child_process');
const { performance } = require('perf_hooks');
const {
  binding, READ, WRITE, ERROR, HUP, openFdCount, tcpPair, readyMap, closeAll,
} = require('../helpers/native-util');

const ADDON_DIR = require('path').join(__dirname, '..', '..');

let baselineFds;
before(() => {
  baselineFds = openFdCount();
});
after(() => {
  assert.equal(openFdCount(), baselineFds, 'every fd the suite opened is closed again');
});

it('exposes the platform backends and constants', () => {
  assert.deepEqual(binding.constants, { READ: 1, WRITE: 2, ERROR: 4, HUP: 8, AUTO_READ: 16, READ_NOT_DONE: -(2 ** 31), READ_WOULD_BLOCK: -(2 ** 31) + 1 });
  if (process.platform === 'linux') assert.deepEqual(binding.backends, ['epoll', 'poll', 'select']);
  assert.throws(() => new binding.Poller('nope'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => new binding.Poller(), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  const missing = ['epoll', 'kqueue'].find((b) => !binding.backends.includes(b));
  assert.throws(() => new binding.Poller(missing), { code: 'ERR_BACKEND_UNAVAILABLE' });
});

for (const backend of binding.backends) {
  describe(`Poller(${backend})`, () => {
    const hasHup = backend !== 'select'; // select has no hang-up/error bits

    it('has a fixed shape: backend, capacity, the same events array', () => {
      const p = new binding.Poller(backend);
      assert.equal(p.backend, backend);
      assert.equal(p.capacity, 1024);
      assert.ok(p.events instanceof Int32Array);
      assert.equal(p.events.length, 2048);
      assert.equal(p.events, p.events);
      assert.equal(p.size, 0);
      p.close();
      p.close(); // idempotent
    });

    it('reports read and write readiness, level-triggered', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ);
      assert.equal(p.size, 1);
      assert.equal(p.wait(0), 0);
      binding.send(b, Buffer.from('x'), 0, 1);
      assert.deepEqual(readyMap(p, 1000), new Map([[a, READ]]));
      // Still readable: level-triggered.
      assert.deepEqual(readyMap(p, 1000), new Map([[a, READ]]));
      assert.equal(binding.recv(a, Buffer.alloc(4), 0, 4), 1);
      assert.equal(p.wait(0), 0);
      p.add(b, WRITE);
      assert.deepEqual(readyMap(p, 1000), new Map([[b, WRITE]]));
      p.close();
      closeAll(a, b);
    });

    it('modify changes the interest; nothing is reported after remove', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ);
      assert.equal(p.wait(0), 0);
      p.modify(a, READ | WRITE);
      assert.deepEqual(readyMap(p, 1000), new Map([[a, WRITE]]));
      p.modify(a, READ);
      assert.equal(p.wait(0), 0);
      binding.send(b, Buffer.from('y'), 0, 1);
      p.remove(a);
      assert.equal(p.size, 0);
      assert.equal(p.wait(0), 0);
      p.close();
      closeAll(a, b);
    });

    it('peer close is READ|HUP (READ alone on select), then EOF', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ);
      binding.close(b);
      const ev = readyMap(p, 1000).get(a);
      assert.ok(ev & READ, `READ in ${ev}`);
      if (hasHup) assert.ok(ev & HUP, `HUP in ${ev}`);
      assert.equal(binding.recv(a, Buffer.alloc(4), 0, 4), 0);
      p.close();
      closeAll(a);
    });

    it('TCP peer FIN is READ|HUP (READ on select)', () => {
      const p = new binding.Poller(backend);
      const [listener, client, conn] = tcpPair();
      p.add(conn, READ);
      binding.shutdown(client, 1);
      const ev = readyMap(p, 1000).get(conn);
      assert.ok(ev & READ);
      if (hasHup) assert.ok(ev & HUP);
      assert.equal(binding.recv(conn, Buffer.alloc(4), 0, 4), 0);
      p.close();
      closeAll(listener, client, conn);
    });

    it('a reset connection (SO_LINGER 0) is ERROR/HUP, and recv throws ECONNRESET', () => {
      const p = new binding.Poller(backend);
      const [listener, client, conn] = tcpPair();
      p.add(conn, READ);
      binding.setsockopt(client, 'SO_LINGER', 0);
      binding.close(client);
      const ev = readyMap(p, 1000).get(conn);
      assert.ok(ev & READ, `READ in ${ev}`);
      if (hasHup) assert.ok(ev & (ERROR | HUP), `ERROR or HUP in ${ev}`);
      assert.throws(() => binding.recv(conn, Buffer.alloc(4), 0, 4), {
        code: 'ECONNRESET', syscall: 'recv', errno: -104,
      });
      p.close();
      closeAll(listener, conn);
    });

    it('handles 500 fds, reporting exactly the ready ones', () => {
      const p = new binding.Poller(backend);
      const pairs = [];
      for (let i = 0; i < 250; i++) pairs.push(binding.socketpair('stream'));
      for (const [a, b] of pairs) {
        p.add(a, READ);
        p.add(b, READ);
      }
      assert.equal(p.size, 500);
      const expected = new Set();
      pairs.forEach(([a, b], i) => {
        if (i % 3 === 0) {
          binding.send(b, Buffer.from('z'), 0, 1);
          expected.add(a);
        }
      });
      const got = readyMap(p, 1000);
      assert.deepEqual(new Set(got.keys()), expected);
      for (const ev of got.values()) assert.equal(ev, READ);
      p.close();
      closeAll(pairs);
    });

    it('wait(30) times out with 0, not before 30 ms; fractional ms round up', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ);
      let t0 = performance.now();
      assert.equal(p.wait(30), 0);
      assert.ok(performance.now() - t0 >= 30, 'not before the deadline');
      t0 = performance.now();
      assert.equal(p.wait(1.2), 0);
      assert.ok(performance.now() - t0 >= 1.2, 'fractional deadline respected');
      p.close();
      closeAll(a, b);
    });

    it('binding.close drops a registered fd from the poller', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ);
      binding.send(b, Buffer.from('q'), 0, 1);
      binding.close(a);
      assert.equal(p.size, 0);
      assert.equal(p.wait(0), 0);
      assert.throws(() => p.remove(a), { code: 'ENOENT' });
      p.close();
      closeAll(b);
    });

    it('remove of a registered fd closed behind its back succeeds', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ);
      fs.closeSync(a); // not through binding.close: the poller is not told
      const n = p.wait(0);
      if (backend === 'epoll') {
        assert.equal(n, 0); // the kernel dropped it
      } else {
        // poll (POLLNVAL) and select (EBADF) name the fd at fault.
        assert.equal(n, 1);
        assert.deepEqual([p.events[0], p.events[1] & ERROR], [a, ERROR]);
      }
      p.remove(a);
      assert.equal(p.size, 0);
      p.close();
      closeAll(b);
      // The addon still believes it owns the number `a`; take it back so its bookkeeping and
      // the fd table agree again (and binding.close cannot hit someone else's fd).
      const again = [];
      let fd;
      do {
        fd = binding.socket('inet', 'dgram');
        again.push(fd);
      } while (fd !== a && again.length < 64);
      closeAll(again);
    });

    it('errors: EEXIST, ENOENT, EBADF, closed poller', () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      p.add(a, READ);
      assert.throws(() => p.add(a, WRITE), (err) => err.code === 'EEXIST' && err.errno < 0);
      assert.throws(() => p.modify(b, READ), { code: 'ENOENT' });
      assert.throws(() => p.remove(b), { code: 'ENOENT' });
      assert.throws(() => p.add(999, READ), { code: 'EBADF' });
      p.close();
      for (const call of [() => p.add(b, READ), () => p.modify(a, READ), () => p.remove(a),
        () => p.wait(0), () => p.start(() => {}), () => p.stop()]) {
        assert.throws(call, { code: 'ERR_SELECTOR_CLOSED' });
      }
      assert.equal(p.size, 0);
      closeAll(a, b);
    });

    it('select rejects fds >= FD_SETSIZE with a RangeError before EBADF', () => {
      const p = new binding.Poller(backend);
      if (backend === 'select') {
        assert.throws(() => p.add(5000, READ), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
      } else {
        assert.throws(() => p.add(5000, READ), { code: 'EBADF' });
      }
      p.close();
    });

    it('start() delivers batches through Node\'s loop alongside timers and fs', async () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      const batches = [];
      let resolveBatch;
      const gotBatch = new Promise((resolve) => { resolveBatch = resolve; });
      let microtaskRan = false;
      p.start((n) => {
        const pairs = Array.from(p.events.subarray(0, 2 * n));
        batches.push(pairs);
        // Drain, so level-triggered readiness ends.
        binding.recv(a, Buffer.alloc(64), 0, 64);
        Promise.resolve().then(() => { microtaskRan = true; });
        resolveBatch();
      });
      p.add(a, READ);
      const timer = new Promise((resolve) => setTimeout(resolve, 5));
      const file = fs.promises.readFile(__filename, 'utf8');
      binding.send(b, Buffer.from('hello'), 0, 5);
      const [, , text] = await Promise.all([gotBatch, timer, file]);
      assert.ok(text.includes('start() delivers'));
      assert.deepEqual(batches[0], [a, READ]);
      assert.ok(microtaskRan, 'microtasks drain after the callback');
      // A second batch after a second write.
      const second = new Promise((resolve) => { resolveBatch = resolve; });
      binding.send(b, Buffer.from('again'), 0, 5);
      await second;
      assert.equal(batches.length, 2);
      p.stop();
      p.close();
      closeAll(a, b);
    });

    // With a pollable fd (epoll, kqueue) a wake-up whose batch had 8 events or more looks again,
    // up to four batches; poll/select deliver through their helper thread, one batch a wake-up.
    if (backend === 'epoll' || backend === 'kqueue') {
      it('a batch of 8 or more is followed by another in the same wake-up, up to four; Node\'s turns run between', async () => {
        const batchesPerTurn = async (count) => {
          const p = new binding.Poller(backend);
          const pairs = Array.from({ length: count }, () => binding.socketpair('stream'));
          for (const [x, y] of pairs) {
            binding.send(y, Buffer.from('!'), 0, 1);
            p.add(x, READ);
          }
          // Nothing is read: level-triggered, every look finds all of them ready again.
          const sizes = [];
          const turns = [0];
          p.start((n) => {
            sizes.push(n);
            turns[turns.length - 1]++;
          });
          for (let i = 0; i < 6; i++) {
            await new Promise((resolve) => setImmediate(resolve));
            turns.push(0);
          }
          p.stop();
          p.close();
          for (const pair of pairs) closeAll(...pair);
          assert.ok(sizes.every((n) => n === count), `every batch had all ${count}: ${sizes}`);
          // The first turn began before start(), the last is cut short.
          return turns.slice(1, -1);
        };
        assert.deepEqual(await batchesPerTurn(8), [4, 4, 4, 4, 4]);
        assert.deepEqual(await batchesPerTurn(7), [1, 1, 1, 1, 1]);
      });
    }

    it('closing a registered fd while started: no event for it, no spin', async () => {
      const p = new binding.Poller(backend);
      const [a, b] = binding.socketpair('stream');
      const [c, d] = binding.socketpair('stream');
      const seen = [];
      let resolveC;
      const gotC = new Promise((resolve) => { resolveC = resolve; });
      p.start((n) => {
        for (let i = 0; i < n; i++) seen.push(p.events[2 * i]);
        if (seen.includes(c)) resolveC();
      });
      p.add(a, READ);
      binding.close(b); // a is now readable (EOF) ...
      binding.close(a); // ... and closed while registered
      p.add(c, READ);
      binding.send(d, Buffer.from('c'), 0, 1);
      await gotC;
      assert.ok(!seen.includes(a), `no event for the closed fd (saw ${seen})`);
      assert.equal(seen.length, 1, 'one batch, no spinning');
      p.close();
      closeAll(c, d);
    });

    it('a started poller with nothing registered lets the process exit', () => {
      const script = `
        const b = require('node-gyp-build')(${JSON.stringify(ADDON_DIR)});
        const p = new b.Poller(${JSON.stringify(backend)});
        p.start(() => {});
        const [x, y] = b.socketpair('stream');
        p.add(x, 1);
        p.remove(x);
      `;
      const r = spawnSync(process.execPath, ['-e', script], { cwd: ADDON_DIR, timeout: 20000 });
      assert.equal(r.signal, null, `exited by itself (stderr: ${r.stderr})`);
      assert.equal(r.status, 0, String(r.stderr));
    });

    it('a started poller with an fd registered keeps the process alive until delivery', () => {
      const script = `
        const b = require('node-gyp-build')(${JSON.stringify(ADDON_DIR)});
        const p = new b.Poller(${JSON.stringify(backend)});
        const [x, y] = b.socketpair('stream');
        p.start((n) => { process.stdout.write('delivered ' + n); p.remove(x); });
        p.add(x, 1);
        // The only thing keeping the process alive until then is the poller.
        setTimeout(() => b.send(y, Buffer.from('!'), 0, 1), 20).unref();
      `;
      const r = spawnSync(process.execPath, ['-e', script], { cwd: ADDON_DIR, timeout: 20000 });
      assert.equal(r.signal, null, `exited by itself (stderr: ${r.stderr})`);
      assert.equal(r.status, 0, String(r.stderr));
      assert.equal(String(r.stdout), 'delivered 1');
    });

    it('stopped pollers dropped without close() are collected and give back every fd and thread', () => {
      // Its own process: --expose-gc, and fd / thread counts that no other test disturbs.
      const script = `
        const fs = require('fs');
        const b = require('node-gyp-build')(${JSON.stringify(ADDON_DIR)});
        const fds = () => fs.readdirSync('/proc/self/fd').length;
        const threads = () => fs.readdirSync('/proc/self/task').length;
        const tick = () => new Promise((r) => setImmediate(r));
        const COUNT = 200;
        let finalized = 0;
        const registry = new FinalizationRegistry(() => { finalized++; });
        // In a function of its own, so no frame of the caller keeps the last poller reachable.
        function churn(fd) {
          for (let i = 0; i < COUNT; i++) {
            const p = new b.Poller(${JSON.stringify(backend)});
            p.add(fd, 1);
            p.start(() => {});  // poll/select: opens the wake pipe and starts the helper thread
            p.stop();           // no longer kept alive by being started
            registry.register(p, i);
          }
        }
        (async () => {
          const [x, y] = b.socketpair('stream');
          const before = { fds: fds(), threads: threads() };
          churn(x);
          const during = { fds: fds(), threads: threads() };
          while (finalized < COUNT) { global.gc(); await tick(); }
          // The native finalizers run off the same GC; let Node drain its finalizer queue.
          for (let i = 0; i < 100 && fds() !== before.fds; i++) { global.gc(); await tick(); }
          const after = { fds: fds(), threads: threads() };
          b.close(x); b.close(y);
          process.stdout.write(JSON.stringify({ before, during, after, finalized }));
        })();
      `;
      const r = spawnSync(process.execPath, ['--expose-gc', '-e', script], { cwd: ADDON_DIR, timeout: 60000 });
      assert.equal(r.status, 0, String(r.stderr));
      const { before, during, after, finalized } = JSON.parse(String(r.stdout));
      assert.equal(finalized, 200);
      assert.ok(during.fds > before.fds, 'the pollers held fds while alive');
      assert.deepEqual(after, before, 'no wake pipe, kernel poller fd or helper thread left behind');
    });
  });
}

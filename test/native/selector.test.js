'use strict';
// The Selector contract, run once per backend this platform has (uvloop's habit: the same tests
// against every backend).
const { test, describe } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { Selector, EVENT_READ, EVENT_WRITE, availableBackends } = require('evloop');
const { binding } = require('evloop/internal');

const openFds = () => fs.readdirSync('/proc/self/fd').length;

function pair() {
  return binding.socketpair('stream');
}

function closeAll(...fds) {
  for (const fd of fds) binding.close(fd);
}

test('availableBackends lists epoll, poll and select on Linux, best first', () => {
  const backends = availableBackends();
  if (process.platform === 'linux') assert.deepEqual(backends, ['epoll', 'poll', 'select']);
  assert.equal(new Selector().backend, backends[0]);
});

test('an unknown backend name is a TypeError with ERR_INVALID_ARG_VALUE', () => {
  assert.throws(() => new Selector({ backend: 'iocp' }), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  assert.throws(() => new Selector({ backend: 42 }), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
  assert.throws(() => new Selector('epoll'), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
});

test('a backend this platform lacks is ERR_BACKEND_UNAVAILABLE', () => {
  const missing = ['epoll', 'kqueue'].find((b) => !availableBackends().includes(b));
  assert.ok(missing, 'one of epoll/kqueue is always missing');
  assert.throws(() => new Selector({ backend: missing }), { code: 'ERR_BACKEND_UNAVAILABLE' });
});

for (const backend of availableBackends()) {
  describe(`Selector (${backend})`, () => {
    test('a connected pair is writable at once and readable after the peer writes', () => {
      const before = openFds();
      const sel = new Selector({ backend });
      const [a, b] = pair();
      try {
        const key = sel.register(a, EVENT_READ | EVENT_WRITE, 'side-a');
        assert.deepEqual(key, { fd: a, events: EVENT_READ | EVENT_WRITE, data: 'side-a' });
        let ready = sel.select(0);
        assert.deepEqual(ready.map(([k, ev]) => [k.fd, ev]), [[a, EVENT_WRITE]]);
        assert.equal(ready[0][0].data, 'side-a');

        assert.equal(binding.send(b, Buffer.from('ping'), 0, 4), 4);
        ready = sel.select(1000);
        assert.deepEqual(ready.map(([k, ev]) => [k.fd, ev]), [[a, EVENT_READ | EVENT_WRITE]]);

        // Level-triggered: still readable until the bytes are read.
        assert.equal(sel.select(0)[0][1] & EVENT_READ, EVENT_READ);
        const buf = Buffer.alloc(16);
        assert.equal(binding.recv(a, buf, 0, 16), 4);
        assert.equal(buf.toString('latin1', 0, 4), 'ping');
        assert.deepEqual(sel.select(0).map(([k, ev]) => [k.fd, ev]), [[a, EVENT_WRITE]]);
      } finally {
        sel.close();
        closeAll(a, b);
      }
      assert.equal(openFds(), before);
    });

    test('modify changes the interest and the data', () => {
      const sel = new Selector({ backend });
      const [a, b] = pair();
      try {
        sel.register(a, EVENT_WRITE, 1);
        assert.equal(sel.select(0).length, 1);
        const key = sel.modify(a, EVENT_READ, 2);
        assert.equal(key.data, 2);
        assert.equal(sel.getKey(a), key);
        assert.deepEqual(sel.select(0), []);
        binding.send(b, Buffer.from('x'), 0, 1);
        assert.deepEqual(sel.select(1000).map(([k, ev]) => [k.fd, ev, k.data]), [[a, EVENT_READ, 2]]);
      } finally {
        sel.close();
        closeAll(a, b);
      }
    });

    test('no event is reported after unregister', () => {
      const sel = new Selector({ backend });
      const [a, b] = pair();
      try {
        sel.register(a, EVENT_READ);
        binding.send(b, Buffer.from('x'), 0, 1);
        assert.equal(sel.select(1000).length, 1);
        const key = sel.unregister(a);
        assert.equal(key.fd, a);
        assert.equal(sel.getKey(a), undefined);
        assert.deepEqual(sel.select(0), []);
      } finally {
        sel.close();
        closeAll(a, b);
      }
    });

    test('a peer that closes wakes the reader (hang-up)', () => {
      const sel = new Selector({ backend });
      const [a, b] = pair();
      try {
        sel.register(a, EVENT_READ);
        assert.deepEqual(sel.select(0), []);
        binding.close(b);
        const ready = sel.select(1000);
        assert.deepEqual(ready.map(([k, ev]) => [k.fd, ev]), [[a, EVENT_READ]]);
        assert.equal(binding.recv(a, Buffer.alloc(4), 0, 4), 0, 'EOF');
      } finally {
        sel.close();
        binding.close(a);
      }
    });

    test('a reset TCP connection wakes both directions and recv reports ECONNRESET', () => {
      const sel = new Selector({ backend });
      const listener = binding.socket('inet', 'stream');
      binding.bind(listener, '127.0.0.1', 0);
      binding.listen(listener, 8);
      const { port } = binding.getsockname(listener);
      const client = binding.socket('inet', 'stream');
      let server = -1;
      try {
        binding.connect(client, '127.0.0.1', port);
        sel.register(listener, EVENT_READ);
        assert.equal(sel.select(1000).length, 1);
        server = binding.accept(listener);
        assert.ok(server >= 0);
        sel.register(server, EVENT_READ | EVENT_WRITE);
        // SO_LINGER 0 is not in the option list; a close with unread data makes the kernel
        // send RST instead of FIN, which is the same fault seen from the peer.
        // On loopback the bytes sit in the client's receive queue once send returns.
        assert.equal(binding.send(server, Buffer.from('unread'), 0, 6), 6);
        binding.close(client);
        const readyAfterReset = sel.select(1000).filter(([k]) => k.fd === server);
        assert.equal(readyAfterReset.length, 1);
        assert.equal(readyAfterReset[0][1], EVENT_READ | EVENT_WRITE);
        assert.throws(() => {
          for (;;) if (binding.recv(server, Buffer.alloc(64), 0, 64) <= 0) break;
        }, { code: 'ECONNRESET', syscall: 'recv' });
      } finally {
        sel.close();
        closeAll(listener, ...(server >= 0 ? [server] : []));
      }
    });

    test('many fds: 300 pairs, only the written ones are reported', () => {
      const before = openFds();
      const sel = new Selector({ backend });
      const pairs = [];
      try {
        for (let i = 0; i < 300; i++) {
          const [a, b] = pair();
          pairs.push([a, b]);
          sel.register(a, EVENT_READ, i);
        }
        const written = new Set();
        for (let i = 0; i < 300; i += 7) {
          binding.send(pairs[i][1], Buffer.from([i & 0xff]), 0, 1);
          written.add(i);
        }
        const ready = sel.select(1000);
        assert.deepEqual(new Set(ready.map(([k]) => k.data)), written);
        for (const [, ev] of ready) assert.equal(ev, EVENT_READ);
      } finally {
        sel.close();
        for (const [a, b] of pairs) closeAll(a, b);
      }
      assert.equal(openFds(), before);
    });

    test('a timeout with nothing ready returns empty, never early', () => {
      const sel = new Selector({ backend });
      const [a, b] = pair();
      try {
        sel.register(a, EVENT_READ);
        for (const ms of [1, 2.5, 25]) {
          const t0 = performance.now();
          assert.deepEqual(sel.select(ms), []);
          assert.ok(performance.now() - t0 >= ms, `select(${ms}) returned after ${performance.now() - t0} ms`);
        }
        assert.deepEqual(sel.select(0), []);
        assert.deepEqual(sel.select(-5), [], 'a negative timeout polls');
      } finally {
        sel.close();
        closeAll(a, b);
      }
    });

    test('closing an fd while registered: no event, no spin, unregister still works', () => {
      const sel = new Selector({ backend });
      const [a, b] = pair();
      try {
        sel.register(a, EVENT_READ | EVENT_WRITE);
        binding.close(a);
        assert.deepEqual(sel.select(0), []);
        assert.equal(sel.unregister(a).fd, a);
      } finally {
        sel.close();
        binding.close(b);
      }
    });

    test('misuse throws coded errors', () => {
      const sel = new Selector({ backend });
      const [a, b] = pair();
      try {
        sel.register(a, EVENT_READ);
        assert.throws(() => sel.register(a, EVENT_READ), { code: 'EEXIST' });
        assert.throws(() => sel.unregister(b), { code: 'ENOENT' });
        assert.throws(() => sel.modify(b, EVENT_READ), { code: 'ENOENT' });
        assert.throws(() => sel.register(b, 0), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
        assert.throws(() => sel.register(b, 4), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
        assert.throws(() => sel.register('3', EVENT_READ), { name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
        assert.throws(() => sel.register(-1, EVENT_READ), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
        assert.throws(() => sel.register(1.5, EVENT_READ), { name: 'RangeError', code: 'ERR_OUT_OF_RANGE' });
        assert.throws(() => sel.select('soon'), { name: 'TypeError' });
        assert.equal(sel.getKey(b), undefined);
      } finally {
        sel.close();
        closeAll(a, b);
      }
    });

    test('a closed selector throws ERR_SELECTOR_CLOSED and closes idempotently', () => {
      const sel = new Selector({ backend });
      const [a, b] = pair();
      sel.register(a, EVENT_READ);
      sel.close();
      sel.close();
      assert.equal(sel.closed, true);
      for (const call of [() => sel.register(b, EVENT_READ), () => sel.unregister(a), () => sel.modify(a, EVENT_WRITE), () => sel.select(0), () => sel.getKey(a)]) {
        assert.throws(call, { code: 'ERR_SELECTOR_CLOSED' });
      }
      closeAll(a, b);
    });

    test('registering an fd that is not open is EBADF', () => {
      const sel = new Selector({ backend });
      try {
        const [a, b] = pair();
        closeAll(a, b);
        assert.throws(() => sel.register(a, EVENT_READ), { code: 'EBADF' });
        assert.equal(sel.getKey(a), undefined);
      } finally {
        sel.close();
      }
    });
  });
}

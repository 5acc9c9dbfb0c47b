'use strict';
// native/poller_kqueue.cc run on Linux: built with node-gyp's flags against the BSD shim, linked
// with a poll(2) emulation of kqueue()/kevent() (test/native/bsd-shim/kqueue-emulation.cc) and
// driven through poller.h's contract by test/native/bsd-shim/kqueue-smoke.cc: registration
// errors, merging a fd's read and write events into one pair, a refused modify changing nothing,
// HUP on the peer's FIN, timeouts, a blocked wait woken by another thread, close. This tests the
// backend's own logic against the documented kqueue semantics the emulation follows, not a BSD
// kernel's behaviour. Never skipped (test/helpers/kqueue-shim.js says why).
const { test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const { ROOT, SOURCE, SHIM, runCompiler } = require('../helpers/kqueue-shim');

// The shim's layouts: the emulation and the smoke test build against each (NetBSD numbers its
// filters from 0, so a filter compared against 0 or a sign assumed would show there).
for (const layout of [1, 2, 3]) {
  test(`the kqueue backend passes the smoke test over the poll(2) emulation (shim layout ${layout})`, () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-kqueue-'));
    try {
      const exe = path.join(dir, 'kqueue-smoke');
      const build = runCompiler([
        '-Werror', `-DEVLOOP_SHIM_OS=${layout}`, `-I${path.join(ROOT, 'native')}`, '-pthread',
        SOURCE, path.join(SHIM, 'kqueue-emulation.cc'), path.join(SHIM, 'kqueue-smoke.cc'), '-o', exe,
      ]);
      assert.equal(build.status, 0, `the smoke test does not build:\n${build.stderr}`);
      const env = { ...process.env };
      delete env.LD_PRELOAD; // test:asan's runtime is for node; this binary is not instrumented
      // A lost filter makes a wait without deadline block for good: the timeout turns that
      // into a failure instead of a hung suite.
      const run = spawnSync(exe, [], { env, encoding: 'utf8', timeout: 60_000 });
      assert.ifError(run.error);
      assert.equal(run.status, 0, `the smoke test failed:\n${run.stderr}`);
      assert.equal(run.stdout.trim(), 'ok');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}

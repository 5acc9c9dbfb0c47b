'use strict';
// The second native build: the same addon through cmake-js (CMakeLists.txt), in a fresh clone.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { POLL_PROBE, BEST_BACKEND, freshClone, run } = require('../helpers/package-util');

let work;
let clone;

before(() => {
  ({ work, clone } = freshClone());
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('the cmake-js build produces an addon that loads and polls a socket', { timeout: 600_000 }, () => {
  run('npx', ['cmake-js', 'rebuild', '--out', 'build-cmake'], { cwd: clone });
  const addon = path.join(clone, 'build-cmake', 'Release', 'evloop.node');
  assert.ok(fs.existsSync(addon), `${addon} was built`);
  const out = run(process.execPath, ['-e', POLL_PROBE.replace('BINDING', `require(${JSON.stringify(addon)})`)]);
  assert.deepEqual(JSON.parse(out), { n: 1, ok: true, data: 'hi', backend: BEST_BACKEND });
});

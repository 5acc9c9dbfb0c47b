'use strict';
// The task and await tests run against both ways of carrying an async-function task's frame
// (lib/core/context.ts): this process uses the default for this Node (embedder data on Node 20),
// and a child process runs the same files with the promise-hook carrier, as uvloop runs its tests
// against every loop.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { spawnSync } = require('child_process');
const { asyncContextCarrier } = require('evloop/internal');

const FILES = ['await-path.test.js', 'task.test.js', 'task-eager.test.js', 'future.test.js', 'timeouts.test.js'];

test('the default carrier on this Node', () => {
  const v8Major = Number(process.versions.v8.split('.')[0]);
  if (process.env.EVLOOP_ASYNC_CONTEXT === 'hooks') assert.equal(asyncContextCarrier, 'hooks');
  else assert.equal(asyncContextCarrier, v8Major === 11 ? 'embedder-data' : 'hooks');
});

test('the task and await tests pass with the promise-hook carrier', { timeout: 240_000 }, () => {
  // Without NODE_TEST_CONTEXT (set by an outer `node --test`), the child reports as a plain run.
  const { NODE_TEST_CONTEXT: _outer, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', ...FILES.map((f) => path.join(__dirname, f))], {
    env: { ...env, EVLOOP_ASYNC_CONTEXT: 'hooks' },
    encoding: 'utf8',
    timeout: 230_000,
  });
  assert.equal(r.status, 0, `node --test with EVLOOP_ASYNC_CONTEXT=hooks failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
  assert.match(r.stdout, /# fail 0/);
});

test('EVLOOP_ASYNC_CONTEXT with an unknown value is a TypeError at load', () => {
  const r = spawnSync(process.execPath, ['-e', "require('evloop')"], {
    env: { ...process.env, EVLOOP_ASYNC_CONTEXT: 'bogus' },
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /TypeError: EVLOOP_ASYNC_CONTEXT must be 'hooks' or 'embedder-data', got "bogus"/);
  assert.match(r.stderr, /code: 'ERR_INVALID_ARG_VALUE'/);
});

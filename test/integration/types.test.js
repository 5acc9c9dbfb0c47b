'use strict';
// The shipped declarations type both coroutine styles (`const v: T = yield* fut`, `await fut`)
// through both entry points: examples/typed.ts (CommonJS, `require` condition) and
// examples/typed-esm.mts (ESM, `import` condition) must compile under strict tsc.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('node:child_process');
const path = require('node:path');

test('the published .d.ts files type a strict program in both module systems', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, '..', '..', 'examples', 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stdout + result.stderr);
});

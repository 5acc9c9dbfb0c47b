'use strict';
// core's modules keep their exports objects in V8's fast mode: TypeScript emits a re-export of an
// imported binding (`export { X }`) as an accessor over a data property, which turns the exports
// object into a dictionary, and every read of it from another module (`future_1.Future`) into a
// LoadIC call (callgrind: about 80 instructions per read on the sleep(0) path).
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawnSync } = require('child_process');

test("core's exports objects stay in fast mode", () => {
  const script = `
    require('evloop');
    const slow = [];
    for (const [file, mod] of Object.entries(require.cache)) {
      if (/[\\\\/]dist[\\\\/]core[\\\\/][^\\\\/]+\\.js$/.test(file) && !%HasFastProperties(mod.exports)) slow.push(file);
    }
    process.stdout.write(JSON.stringify(slow));`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});

test("the public entry's exports object is in fast mode, with plain data properties", () => {
  const script = `
    const evloop = require('evloop');
    const accessors = Object.keys(evloop).filter((k) => Object.getOwnPropertyDescriptor(evloop, k).get !== undefined);
    process.stdout.write(JSON.stringify({ fast: %HasFastProperties(evloop), accessors, esModule: evloop.__esModule, sleep: typeof evloop.sleep }));`;
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), { fast: true, accessors: [], esModule: true, sleep: 'function' });
});

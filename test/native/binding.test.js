'use strict';
// lib/native/binding.ts defines the readiness bits and backend names once for the TS side; they
// must agree with what the addon (native/poller.h, native/addon.cc) says.
const test = require('node:test');
const assert = require('node:assert/strict');
const internal = require('evloop/internal');
const { EVENT_READ, EVENT_WRITE } = require('evloop');

test('the TS readiness bits are the addon’s', () => {
  const { binding } = internal;
  assert.deepEqual(
    { READ: internal.EVENT_READ, WRITE: internal.EVENT_WRITE, ERROR: internal.EVENT_ERROR, HUP: internal.EVENT_HUP },
    { READ: binding.constants.READ, WRITE: binding.constants.WRITE, ERROR: binding.constants.ERROR, HUP: binding.constants.HUP },
  );
  assert.equal(EVENT_READ, binding.constants.READ);
  assert.equal(EVENT_WRITE, binding.constants.WRITE);
});

test('every backend the addon offers is a known name, in the order auto prefers', () => {
  const { binding, BACKEND_NAMES, BACKEND_OPTIONS } = internal;
  assert.ok(binding.backends.length > 0);
  for (const b of binding.backends) assert.ok(BACKEND_NAMES.includes(b), b);
  const order = binding.backends.map((b) => BACKEND_NAMES.indexOf(b));
  assert.deepEqual(order, [...order].sort((x, y) => x - y));
  assert.deepEqual(BACKEND_OPTIONS, ['auto', ...BACKEND_NAMES]);
});

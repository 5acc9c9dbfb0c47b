'use strict';
// native/poller_kqueue.cc is built only on macOS and the BSDs (binding.gyp, CMakeLists.txt), so
// the Linux CI never compiles it, and a typo or a wrong type there would first show on a user's
// Mac. This type-checks it (-fsyntax-only -Werror) with node-gyp's flags against
// test/native/bsd-shim/sys/event.h, a stand-in for the BSD header written from the kqueue(2)
// manual pages, once per documented struct layout (test/helpers/kqueue-shim.js builds the
// command). It says the file compiles against the documented API, not that it runs on a BSD
// kernel. Never skipped: no compiler or no Node headers is a failure saying what to install.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { SOURCE, runCompiler } = require('../helpers/kqueue-shim');

// The shim's layouts (its header says what each one is); ILP32 gives ident and data the widths
// of a 32-bit target, where intptr_t and int64_t differ.
const LAYOUTS = [
  { name: 'macOS', defines: ['EVLOOP_SHIM_OS=1'] },
  { name: 'macOS, 32-bit widths', defines: ['EVLOOP_SHIM_OS=1', 'EVLOOP_SHIM_ILP32'] },
  { name: 'FreeBSD 12+ / OpenBSD (int64_t data)', defines: ['EVLOOP_SHIM_OS=2'] },
  { name: 'FreeBSD, 32-bit widths', defines: ['EVLOOP_SHIM_OS=2', 'EVLOOP_SHIM_ILP32'] },
  { name: 'NetBSD (unsigned filter, intptr_t udata, size_t counts)', defines: ['EVLOOP_SHIM_OS=3'] },
  { name: 'NetBSD, 32-bit widths', defines: ['EVLOOP_SHIM_OS=3', 'EVLOOP_SHIM_ILP32'] },
];

test('the check compiles the kqueue backend itself, against the shim', () => {
  // A guard on the guard: were the code #if'd out (the EVLOOP_HAVE_KQUEUE test changed) or the
  // shim not the <sys/event.h> found, -fsyntax-only would pass on an empty file.
  const r = runCompiler(['-E', SOURCE]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /class KqueuePoller final : public Poller/);
  assert.match(r.stdout, /CreateKqueuePoller\(int\* err\)\s*\{/);
  assert.ok(r.stdout.includes(path.join('bsd-shim', 'sys', 'event.h')), 'the shim is the <sys/event.h> used');
});

for (const layout of LAYOUTS) {
  test(`native/poller_kqueue.cc type-checks with no warning: ${layout.name}`, () => {
    const r = runCompiler(['-fsyntax-only', '-Werror', ...layout.defines.map((d) => `-D${d}`), SOURCE]);
    assert.equal(r.status, 0, `poller_kqueue.cc does not compile against the ${layout.name} layout:\n${r.stderr}`);
    assert.equal(r.stderr, '', 'the compiler said nothing');
  });
}

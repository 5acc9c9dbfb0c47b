'use strict';
// The BSD kqueue shim's tooling (not a test file itself): compiling native/poller_kqueue.cc on
// Linux against test/native/bsd-shim/sys/event.h with the flags, defines and include paths
// node-gyp builds the addon with. Used by test/native/kqueue-compile.test.js (type-check) and
// test/native/kqueue-emulated.test.js (a run over a poll(2) emulation of kqueue).
//
// Never a skip: a missing compiler or missing Node headers fail with what to install, since a
// check that quietly passes where it cannot run would hide exactly the breakage it is for.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const vm = require('node:vm');
const { spawnSync, execSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..', '..');
const SOURCE = path.join(ROOT, 'native', 'poller_kqueue.cc');
const SHIM = path.join(ROOT, 'test', 'native', 'bsd-shim');

// What node-gyp's addon.gypi and Node's common.gypi define for every addon, next to
// binding.gyp's own defines (build/evloop.target.mk lists the same on Linux).
const NODE_GYP_DEFINES = [
  'NODE_GYP_MODULE_NAME=evloop', 'USING_UV_SHARED=1', 'USING_V8_SHARED=1',
  'V8_DEPRECATION_WARNINGS=1', '_FILE_OFFSET_BITS=64', '_LARGEFILE_SOURCE',
  '__STDC_FORMAT_MACROS', 'BUILDING_NODE_EXTENSION',
];

// binding.gyp is a Python literal; with its #-comment lines dropped it is a JS expression.
function readGyp(file) {
  const text = fs.readFileSync(file, 'utf8').split('\n').filter((l) => !l.trim().startsWith('#')).join('\n');
  return vm.runInNewContext(`(${text})`);
}

// The Node headers node-gyp compiled the addon against: build/config.gypi records its nodedir
// (--nodedir / npm_config_nodedir, the prefix of a Node that ships its headers, or the cache it
// downloaded them into). Without a build, the places node-gyp itself would look.
function nodeHeaders() {
  const candidates = [];
  try {
    const config = JSON.parse(fs.readFileSync(path.join(ROOT, 'build', 'config.gypi'), 'utf8')
      .split('\n').filter((l) => !l.startsWith('#')).join('\n'));
    if (config.variables && config.variables.nodedir) candidates.push(config.variables.nodedir);
  } catch {}
  if (process.env.npm_config_nodedir) candidates.push(process.env.npm_config_nodedir);
  const cache = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  candidates.push(path.join(cache, 'node-gyp', process.versions.node));
  candidates.push(path.resolve(path.dirname(process.execPath), '..'));
  const tried = candidates.map((dir) => path.join(dir, 'include', 'node'));
  const found = tried.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
  return { found, tried };
}

// Computed once per process: both test files compile several times with the same flags, and
// include_dirs' `<!(node -p ...)` is a child process each time it is expanded.
let cachedFlags = null;
function compilerFlags() {
  if (cachedFlags === null) cachedFlags = readCompilerFlags();
  return cachedFlags;
}

function readCompilerFlags() {
  const gyp = readGyp(path.join(ROOT, 'binding.gyp'));
  const target = gyp.targets.find((t) => t.target_name === 'evloop');
  assert.ok(target, 'binding.gyp has the evloop target');
  const kqueueCondition = (target.conditions || []).find(([cond, body]) => /OS=='mac'/.test(cond) && (body.sources || []).includes('native/poller_kqueue.cc'));
  assert.ok(kqueueCondition, "binding.gyp builds native/poller_kqueue.cc on OS=='mac' (the file this test checks)");

  const { found, tried } = nodeHeaders();
  assert.ok(found, `no Node headers (node_api.h) in any of ${tried.join(', ')}: run \`npm ci\` (node-gyp fetches them when it builds the addon) or set npm_config_nodedir to a Node source or headers tree`);

  // `<!(command)` is gyp's command expansion, run in the project directory.
  const includes = (target.include_dirs || []).map((dir) => {
    const expanded = dir.replace(/^<!\((.*)\)$/, (_, cmd) => execSync(cmd, { cwd: ROOT, encoding: 'utf8' }).trim());
    return path.resolve(ROOT, expanded.replace(/^"|"$/g, ''));
  });
  return [
    ...(target.cflags || []), ...(target.cflags_cc || []),
    ...[...NODE_GYP_DEFINES, ...(target.defines || [])].map((d) => `-D${d}`),
    // Only the shim comes before the system headers; Linux has no <sys/event.h> of its own.
    `-I${SHIM}`, `-I${found}`, ...includes.map((dir) => `-I${dir}`),
    // poller.h turns the backend on for macOS/BSD only; here it is asked for explicitly.
    '-DEVLOOP_HAVE_KQUEUE=1',
  ];
}

function compiler() {
  // node-gyp's Makefiles compile with $(CXX); CI has g++ (.ci/run installs it if missing).
  const [cmd, ...args] = (process.env.CXX || 'g++').trim().split(/\s+/);
  return { cmd, args };
}

function runCompiler(extra) {
  const { cmd, args } = compiler();
  // Not the sanitizer runtime `npm run test:asan` preloads into node: the compiler is not
  // instrumented and has no business with it.
  const env = { ...process.env };
  delete env.LD_PRELOAD;
  const r = spawnSync(cmd, [...args, ...compilerFlags(), ...extra], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error && r.error.code === 'ENOENT') {
    assert.fail(`no C++ compiler: \`${cmd}\` is not on the PATH (install g++, or set CXX): native/poller_kqueue.cc cannot be type-checked`);
  }
  assert.ifError(r.error);
  return r;
}

module.exports = { ROOT, SOURCE, SHIM, compilerFlags, runCompiler };

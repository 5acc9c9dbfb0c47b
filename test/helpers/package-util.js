'use strict';
// Shared by the package and cmake-build tests: a fresh clone of the repository to build in, and
// a one-file program that proves an addon can poll a real socket.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const BEST_BACKEND = process.platform === 'linux' ? 'epoll' : 'kqueue';

// A one-file program that proves the addon it loads can poll a real socket.
const POLL_PROBE = `
  const binding = BINDING;
  const poller = new binding.Poller(binding.backends[0]);
  const [a, b] = binding.socketpair('stream');
  poller.add(a, binding.constants.READ);
  binding.send(b, Buffer.from('hi'), 0, 2);
  const n = poller.wait(1000);
  const fd = poller.events[0];
  const buf = Buffer.alloc(8);
  const got = binding.recv(a, buf, 0, 8);
  poller.close(); binding.close(a); binding.close(b);
  console.log(JSON.stringify({ n, ok: fd === a, data: buf.toString('latin1', 0, got), backend: poller.backend }));
`;

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

/** `git clone` of this repository (HEAD) in a new temp folder: `{ work, clone }`. */
function freshClone() {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-pkg-'));
  const clone = path.join(work, 'evloop');
  run('git', ['clone', '--quiet', root, clone]);
  // The dev dependencies `npm ci` would install (same lockfile), without a second download:
  // the build and publish steps only run their tools, and node_modules is never packed.
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(clone, 'node_modules'), 'dir');
  return { work, clone };
}

module.exports = { POLL_PROBE, BEST_BACKEND, freshClone, run };

'use strict';
// The published package, as a user meets it. Everything happens in a fresh `git clone` of this
// repository (what is committed at HEAD), so neither a prebuilt binary nor a file left in the
// working tree can make the result look better than a real release.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const { POLL_PROBE, BEST_BACKEND, freshClone, run } = require('../helpers/package-util');

let work;
let clone;

before(() => {
  ({ work, clone } = freshClone());
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('npm pack of a fresh clone ships a prebuild and installs with only node and npm on PATH', { timeout: 600_000 }, () => {
  assert.ok(!fs.existsSync(path.join(clone, 'prebuilds')), 'a clone has no prebuilds');
  // Exactly what `npm publish` packs: its lifecycle runs prepack (prebuildify) and prepare (tsc).
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', work], { cwd: clone }).trim().split('\n').pop();
  const tarPath = path.join(work, tarball);
  const listing = run('tar', ['-tzf', tarPath]);
  for (const shipped of ['package/dist/index.js', 'package/dist/index.mjs', 'package/dist/index.d.ts', 'package/binding.gyp', 'package/CMakeLists.txt', 'package/native/poller.h', 'package/docs/README.md', 'package/docs/api.md', 'package/README.md']) {
    assert.ok(listing.includes(shipped), `the tarball ships ${shipped}`);
  }
  assert.match(listing, new RegExp(`package/prebuilds/${process.platform}-${process.arch}/[^\\n]+\\.node`));
  for (const kept of ['package/test/', 'package/bench/', 'package/lib/', 'package/.doc-programs', 'package/build/']) {
    assert.ok(!listing.includes(kept), `the tarball does not ship ${kept}`);
  }
  const manifest = JSON.parse(run('tar', ['-xzOf', tarPath, 'package/package.json']));
  for (const field of ['repository', 'homepage', 'bugs', 'keywords', 'license']) assert.ok(manifest[field], `package.json has ${field}`);

  // A PATH with node, npm and sh (npm runs install scripts through it) only: no cc, g++,
  // make or python for node-gyp to fall back on.
  const bin = path.join(work, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  // npm's own CLI script (bin/npm is a link to it), found the way a shell finds npm.
  const npmCli = fs.realpathSync(run('sh', ['-c', 'command -v npm']).trim());
  fs.symlinkSync(npmCli, path.join(bin, 'npm'));
  fs.symlinkSync('/bin/sh', path.join(bin, 'sh'));
  const env = { ...process.env, PATH: bin };
  for (const tool of ['cc', 'gcc', 'g++', 'c++', 'make', 'python3']) {
    assert.notEqual(spawnSync('/bin/sh', ['-c', `command -v ${tool}`], { env }).status, 0, `${tool} is not on the PATH`);
  }

  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  run(path.join(bin, 'npm'), ['install', '--no-audit', '--no-fund', '--prefer-offline', tarPath], { cwd: app, env });
  assert.ok(!fs.existsSync(path.join(app, 'node_modules', 'evloop', 'build')), 'nothing was compiled at install');

  const out = run(path.join(bin, 'node'), ['-e', POLL_PROBE.replace('BINDING', "require('evloop/internal').binding")], { cwd: app, env });
  assert.deepEqual(JSON.parse(out), { n: 1, ok: true, data: 'hi', backend: BEST_BACKEND });

  // The public API through both module systems.
  const cjs = run(path.join(bin, 'node'), ['-e', "const { Selector } = require('evloop'); const s = new Selector(); console.log(s.backend); s.close();"], { cwd: app, env });
  assert.equal(cjs.trim(), BEST_BACKEND);
  const esm = run(path.join(bin, 'node'), ['--input-type=module', '-e', "import { Selector } from 'evloop'; const s = new Selector(); console.log(s.backend); s.close();"], { cwd: app, env });
  assert.equal(esm.trim(), BEST_BACKEND);
});

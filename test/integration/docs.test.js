'use strict';
// Every code block of README.md and docs/**/*.md is a program, and this runs each one as a reader
// would: CommonJS or ESM on its own, TypeScript type-checked (strict) with the repo's tsc and
// then run. Where the doc shows the output (a ```text block right after the code), stdout must
// match it. The conventions are in docs/contributing.md ("Examples are programs"); pages added later
// are picked up by the glob, no list to keep.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const vm = require('node:vm');
const { spawn, spawnSync } = require('node:child_process');
const { programs, matchesOutput } = require('../helpers/doc-blocks');

const root = path.join(__dirname, '..', '..');
const TIME_LIMIT = 30_000;

function markdownFiles() {
  const files = [path.join(root, 'README.md')];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.md')) files.push(full);
    }
  };
  walk(path.join(root, 'docs'));
  return files;
}

// The programs live inside the package folder so that `require('evloop')` / `import 'evloop'`
// resolve to this package by its own name (package.json "exports"), as they do for a user.
let work;
// Pages about Redis talk to a server: a real one of the test's own, reached through REDIS_URL
// (which the client reads when no URL is given, as the docs say).
let redis = null;
const env = { ...process.env };
before(async () => {
  work = fs.mkdtempSync(path.join(root, '.doc-programs-'));
  const needsRedis = markdownFiles().some((f) => /createRedisClient|RedisQueue/.test(fs.readFileSync(f, 'utf8')));
  if (needsRedis) {
    const { startRedisServer } = require('../helpers/redis-server');
    redis = await startRedisServer();
    env.REDIS_URL = redis.url;
  }
});
after(async () => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
  if (redis) await redis.stop();
});

// A block marked `sigint` is a server that runs until interrupted: it gets SIGINT once it has
// printed its first line, and must then exit 0 as from Ctrl-C.
function spawnProgram(file, sigint) {
  const cwd = path.dirname(file);
  if (!sigint) return Promise.resolve(spawnSync(process.execPath, [file], { cwd, env, encoding: 'utf8', timeout: TIME_LIMIT, stdio: ['ignore', 'pipe', 'pipe'] }));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [file], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const result = { stdout: '', stderr: '', status: null, signal: null, error: undefined };
    const timer = setTimeout(() => {
      result.error = { code: 'ETIMEDOUT' };
      child.kill('SIGKILL');
    }, TIME_LIMIT);
    child.stdout.setEncoding('utf8').on('data', (d) => {
      const first = !result.stdout.includes('\n');
      result.stdout += d;
      if (first && result.stdout.includes('\n')) child.kill('SIGINT');
    });
    child.stderr.setEncoding('utf8').on('data', (d) => (result.stderr += d));
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      Object.assign(result, { status, signal });
      resolve(result);
    });
  });
}

async function runProgram(file, block, where) {
  const result = await spawnProgram(file, block.sigint);
  const report = `${where}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;
  assert.equal(result.error?.code, undefined, `${where} did not finish within ${TIME_LIMIT} ms\n${report}`);
  assert.equal(result.status, 0, `${where} exited with ${result.status ?? result.signal}\n${report}`);
  if (block.expected !== null) {
    assert.ok(matchesOutput(result.stdout, block.expected), `${where} printed something else than the doc shows:\n--- expected\n${block.expected.join('\n')}\n${report}`);
  }
}

// A fragment must still parse: as the body of a coroutine (await and yield* both allowed), or
// as the members of a class.
function checkFragment(block, where) {
  if (block.kind === 'ts' || /^\s*import\s/m.test(block.code)) return;
  const parses = (source) => {
    try {
      new vm.Script(source, { filename: where });
      return true;
    } catch {
      return false;
    }
  };
  assert.ok(parses(`(async function* fragment() {\n${block.code}\n})`) || parses(`(class Fragment {\n${block.code}\n})`), `${where} does not parse`);
}

const all = [];
for (const file of markdownFiles()) {
  const rel = path.relative(root, file);
  for (const block of programs(fs.readFileSync(file, 'utf8'))) all.push({ rel, block, where: `${rel}:${block.line}` });
}

test('the docs have program blocks, and fragments are the exception', () => {
  assert.ok(all.length >= 15, `found ${all.length} blocks`);
  const fragments = all.filter((b) => b.block.fragment).length;
  assert.ok(fragments * 4 <= all.length, `${fragments} of ${all.length} blocks are fragments`);
});

// Each page's programs run in a folder of their own, beside the page's file=NAME modules.
function pageDir(rel) {
  const dir = path.join(work, rel.replace(/[^a-z0-9]+/gi, '-'));
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir);
    for (const { block } of all.filter((b) => b.rel === rel && b.block.file !== null)) fs.writeFileSync(path.join(dir, block.file), block.code);
  }
  return dir;
}

for (const { rel, block, where } of all) {
  if (block.fragment) {
    test(`${where} (fragment) parses`, () => checkFragment(block, where));
    continue;
  }
  if (block.file !== null) continue; // a module for the page's programs, not a program
  if (block.kind === 'ts') continue; // compiled together below
  test(`${where} runs as ${block.kind === 'esm' ? 'an ES module' : 'CommonJS'}`, async () => {
    const name = `${rel.replace(/[^a-z0-9]+/gi, '-')}-${block.line}${block.kind === 'esm' ? '.mjs' : '.cjs'}`;
    const file = path.join(pageDir(rel), name);
    fs.writeFileSync(file, block.code);
    await runProgram(file, block, where);
  });
}

const tsBlocks = all.filter((b) => b.block.kind === 'ts' && !b.block.fragment && b.block.file === null);
if (tsBlocks.length > 0) {
  test('TypeScript blocks compile under strict tsc and run', async () => {
    const dir = path.join(work, 'ts');
    const out = path.join(work, 'ts-out');
    fs.mkdirSync(dir);
    const files = tsBlocks.map(({ rel, block }) => {
      const file = path.join(dir, `${rel.replace(/[^a-z0-9]+/gi, '-')}-${block.line}.ts`);
      fs.writeFileSync(file, block.code);
      return file;
    });
    const tsc = require.resolve('typescript/bin/tsc');
    const args = ['--strict', '--target', 'ES2022', '--module', 'node16', '--moduleResolution', 'node16', '--types', 'node', '--rootDir', dir, '--outDir', out, ...files];
    const result = spawnSync(process.execPath, [tsc, ...args], { cwd: work, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stdout + result.stderr);
    for (const [i, { block, where }] of tsBlocks.entries()) await runProgram(path.join(out, path.basename(files[i], '.ts') + '.js'), block, where);
  });
}

'use strict';
// The shipped declarations compile in a user's project: a throwaway project with evloop in its
// node_modules (the package's own files only — no evloop dev dependency in reach), typescript
// and @types/node installed from the npm registry as a user would, and strict programs in
// CommonJS and ESM, with the oldest TypeScript evloop supports and the newest on npm. No
// skipLibCheck, no `types` or `lib` additions: the tsconfig is what a user starts from.
// The registry installs are cached in the OS temp folder, keyed by version, so only the first
// run downloads them.
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const pkg = require(path.join(root, 'package.json'));
const OLDEST_TYPESCRIPT = '5.0.4';
const OLDEST_TYPES_NODE = '20';
const CACHE = path.join(os.tmpdir(), 'evloop-consumer-cache');

// npm's answer for `typescript@latest`, asked once per run.
function newestVersion(name) {
  return execFileSync('npm', ['view', `${name}@latest`, 'version'], { encoding: 'utf8' }).trim();
}

// node_modules with exactly these packages, installed once per version set and reused.
function toolchain(specs) {
  const dir = path.join(CACHE, specs.map((s) => s.replace(/[^a-z0-9.@-]+/gi, '_')).join('+'));
  if (fs.existsSync(path.join(dir, 'ready'))) return path.join(dir, 'node_modules');
  const tmp = `${dir}.${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  fs.writeFileSync(path.join(tmp, 'package.json'), JSON.stringify({ private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...specs], { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
  fs.writeFileSync(path.join(tmp, 'ready'), specs.join(' '));
  try {
    fs.renameSync(tmp, dir);
  } catch {
    fs.rmSync(tmp, { recursive: true, force: true }); // another run got there first
  }
  return path.join(dir, 'node_modules');
}

// What a strict user program may rely on: values typed from the arguments, no `unknown`.
const PROGRAM = (importLine) => `${importLine}

async function main(): Promise<number> {
  const loop = getRunningLoop();
  const [text, count] = await gather(sleep(1, 'x'), sleep(1, 2));
  const t: string = text;
  const n: number = count;
  const listed: [string, boolean] = await gather([sleep(1, 'y'), sleep(1, true)] as const);
  const settled = await gather([sleep(1, 1)], { returnExceptions: true });
  const maybe: number | Error = settled[0];
  const task: Task<number> = loop.createTask(async () => 41);
  const answer: number = await waitFor(task, 1000);
  const fromGenerator: string = await waitFor(loop.createTask(function* () { yield* sleep(1); return 'g'; }), 1000);
  const [done, pending] = await wait([sleep(1, 1), sleep(2, 2)], { returnWhen: 'FIRST_COMPLETED' });
  for (const f of done) { const v: number = f.result(); void v; }
  void pending;
  for (const f of asCompleted([sleep(2, 'b'), sleep(1, 'a')])) { const s: string = await f; void s; }
  // @ts-expect-error: waitFor's value has the awaitable's type, not any
  const wrong: string = await waitFor(sleep(1, 1), 10);
  void wrong;
  const fut: Future<Buffer> = loop.createFuture<Buffer>();
  fut.setResult(Buffer.from('ok'));
  const sel = new Selector();
  sel.close();
  class Echo extends Protocol {
    override dataReceived(data: Buffer): void { void data; }
  }
  void Echo;
  return t.length + n + listed.length + (maybe instanceof Error ? 0 : maybe) + answer + fromGenerator.length + (await fut).length;
}

run(main).then((v: number) => console.log(v));
`;

const TSCONFIG = {
  compilerOptions: { strict: true, target: 'ES2022', module: 'node16', moduleResolution: 'node16', noEmit: true },
  files: ['cjs.ts', 'esm.mts'],
};
const NAMES = 'run, getRunningLoop, sleep, gather, waitFor, wait, asCompleted, Selector, Protocol, type Task, type Future';

let work;
before(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-consumer-'));
});
after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

function consumerProject(name, modules) {
  const dir = path.join(work, name);
  const evloop = path.join(dir, 'node_modules', 'evloop');
  fs.mkdirSync(evloop, { recursive: true });
  // The package as installed: package.json and its shipped declarations.
  fs.copyFileSync(path.join(root, 'package.json'), path.join(evloop, 'package.json'));
  fs.cpSync(path.join(root, 'dist'), path.join(evloop, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
  for (const entry of ['typescript', '@types']) fs.symlinkSync(path.join(modules, entry), path.join(dir, 'node_modules', entry), 'dir');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, private: true }));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  fs.writeFileSync(path.join(dir, 'cjs.ts'), PROGRAM(`import { ${NAMES} } from 'evloop';`));
  fs.writeFileSync(path.join(dir, 'esm.mts'), PROGRAM(`import { ${NAMES} } from 'evloop';`));
  return dir;
}

function compile(dir) {
  const tsc = path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc');
  const version = spawnSync(process.execPath, [tsc, '--version'], { cwd: dir, encoding: 'utf8' }).stdout.trim();
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
  assert.equal(result.status, 0, `${version}:\n${result.stdout}${result.stderr}`);
  return version;
}

test('@types/node is an optional peer dependency, in the range the engines field allows', () => {
  assert.ok(pkg.peerDependencies?.['@types/node'], 'declared as a peer');
  assert.equal(pkg.peerDependenciesMeta?.['@types/node']?.optional, true, 'optional: JavaScript users need nothing');
});

test(`strict programs compile against the shipped types with TypeScript ${OLDEST_TYPESCRIPT} (the oldest supported)`, { timeout: 300_000 }, () => {
  const modules = toolchain([`typescript@${OLDEST_TYPESCRIPT}`, `@types/node@${OLDEST_TYPES_NODE}`]);
  assert.match(compile(consumerProject('oldest', modules)), new RegExp(OLDEST_TYPESCRIPT.replace(/\./g, '\\.')));
});

test('strict programs compile against the shipped types with the newest TypeScript on npm', { timeout: 300_000 }, () => {
  const newest = newestVersion('typescript');
  const modules = toolchain([`typescript@${newest}`, `@types/node@${newestVersion('@types/node')}`]);
  assert.match(compile(consumerProject('newest', modules)), new RegExp(newest.replace(/\./g, '\\.')));
});

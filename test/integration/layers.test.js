'use strict';
// docs/architecture.md's rule, enforced: lib/ has no import cycle (type-only imports included)
// and every import points to the same layer or one below (.dependency-cruiser.cjs).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..', '..');
const depcruise = path.join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');
const config = path.join(root, '.dependency-cruiser.cjs');

function cruise(cwd) {
  const r = spawnSync(process.execPath, [depcruise, '--config', config, '--output-type', 'json', 'lib'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.ok(r.stdout, `dependency-cruiser printed nothing: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

test('lib/ has no cycle and no import that points up a layer', () => {
  const out = cruise(root);
  const violations = out.summary.violations.map((v) => `${v.rule.name}: ${v.from} → ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name ?? c).join(' → ')})` : ''}`);
  assert.deepEqual(violations, []);
  assert.ok(out.summary.totalCruised > 30, 'the whole of lib/ was read');
});

test('the checker catches an upward import, and a type-only cycle', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-layers-'));
  try {
    const write = (rel, text) => {
      fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      fs.writeFileSync(path.join(dir, rel), text);
    };
    write('tsconfig.json', JSON.stringify({ compilerOptions: { strict: true, module: 'commonjs' }, include: ['lib/**/*.ts'] }));
    write('lib/core/a.ts', "import { b } from '../io/b';\nexport const a = b;\n");
    write('lib/io/b.ts', 'export const b = 1;\n');
    write('lib/util/x.ts', "import type { Y } from './y';\nexport interface X { y?: Y }\n");
    write('lib/util/y.ts', "import type { X } from './x';\nexport interface Y { x?: X }\n");
    const rules = new Set(cruise(dir).summary.violations.map((v) => v.rule.name));
    assert.ok(rules.has('layer-core'), 'upward import core → io');
    assert.ok(rules.has('no-circular'), 'type-only cycle');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('every file of lib/ lives in a layer folder, or is an entry point at the top', () => {
  const LAYERS = require('../../scripts/layers.cjs');
  const lib = path.join(root, 'lib');
  const stray = [];
  for (const entry of fs.readdirSync(lib, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!LAYERS.includes(entry.name)) stray.push(`lib/${entry.name}/ is not a layer`);
    } else if (!['index.ts', 'internal.ts'].includes(entry.name)) stray.push(`lib/${entry.name}`);
  }
  assert.deepEqual(stray, []);
});

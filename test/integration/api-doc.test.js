'use strict';
// docs/api.md is the API reference: every name the package exports is named there, and (where
// the project's contract is at hand, ../shared/API.md beside the repository) every name the
// contract fixes is still named there too.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');
const reference = fs.readFileSync(path.join(root, 'docs', 'api.md'), 'utf8');
const named = (name) => new RegExp(`\\b${name.replace(/[$]/g, '\\$&')}\\b`).test(reference);

test('every export of the package is named in docs/api.md', () => {
  const missing = Object.keys(require('evloop')).filter((n) => n !== 'default' && !named(n));
  assert.deepEqual(missing, []);
});

test('every identifier of the API contract is named in docs/api.md', (t) => {
  const contractPath = path.join(root, '..', 'shared', 'API.md');
  if (!fs.existsSync(contractPath)) {
    // A clone without the contract beside it: the first test still holds the reference complete.
    t.diagnostic('no ../shared/API.md beside the repository: compared the exports only');
    return;
  }
  const contract = fs.readFileSync(contractPath, 'utf8');
  const identifiers = new Set();
  for (const span of contract.matchAll(/`([^`]+)`/g)) {
    for (const id of span[1].matchAll(/\b([A-Za-z_][A-Za-z0-9_]{2,})\b(?=\s*\()/g)) identifiers.add(id[1]);
  }
  const missing = [...identifiers].filter((id) => !named(id));
  assert.deepEqual(missing, []);
});

'use strict';
// The rules docs.test.js applies to Markdown (docs/contributing.md, "Examples are programs"):
// which blocks are programs, how they run, and how a shown output is compared.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { programs, matchesOutput } = require('../helpers/doc-blocks');

const F = '```';

test('program blocks: js is CommonJS unless it imports; mjs, cjs and ts as named; others are not programs', () => {
  const md = [
    `${F}js`, "const x = require('evloop');", F,
    `${F}js`, "import { run } from 'evloop';", F,
    `${F}mjs`, 'await 1;', F,
    `${F}cjs`, 'module.exports = 1;', F,
    `${F}ts`, 'const n: number = 1;', F,
    `${F}sh`, 'npm test', F,
    F, 'plain', F,
  ].join('\n');
  assert.deepEqual(programs(md).map((p) => p.kind), ['cjs', 'esm', 'esm', 'cjs', 'ts']);
});

test('fragment and sigint marks; a text block right after a program is its output', () => {
  const md = [
    `${F}js fragment`, 'yield* sleep(1);', F,
    '',
    `${F}js sigint`, 'console.log(1);', F,
    '',
    `${F}text`, 'listening on …', '', F,
    `${F}js`, 'console.log(2);', F,
    'prose in between',
    `${F}text`, '2', F,
  ].join('\n');
  const [fragment, server, other] = programs(md);
  assert.equal(fragment.fragment, true);
  assert.equal(server.sigint, true);
  assert.deepEqual(server.expected, ['listening on …']);
  assert.equal(other.expected, null, 'prose between code and text: not its output');
});

test('file=NAME marks a module the page\'s programs load', () => {
  const [mod, main] = programs([`${F}js file=hash.js`, 'exports.h = 1;', F, `${F}js`, "require('./hash.js');", F].join('\n'));
  assert.equal(mod.file, 'hash.js');
  assert.equal(main.file, null);
});

test('a longer fence holds shorter ones: a Markdown example of a block is not a program', () => {
  const md = ['````markdown', `${F}js`, 'console.log(1);', F, '````', `${F}js`, 'console.log(2);', F].join('\n');
  assert.deepEqual(programs(md).map((p) => p.code), ['console.log(2);\n']);
});

test('output: exact lines, … within a line, a … line for any number of lines', () => {
  assert.ok(matchesOutput('a\nb\n', ['a', 'b']));
  assert.ok(matchesOutput('a  \nb\n\n', ['a', 'b']), 'trailing blanks do not count');
  assert.ok(!matchesOutput('a\nb\nc\n', ['a', 'b']), 'an extra line counts');
  assert.ok(matchesOutput('port 8123\n', ['port …']));
  assert.ok(!matchesOutput('port 8123\nmore\n', ['port …']), '… within a line does not cross lines');
  assert.ok(matchesOutput('x.y\n', ['x.y']) && !matchesOutput('xzy\n', ['x.y']), 'no regex syntax');
  assert.ok(matchesOutput('Error\n    at a\n    at b\nend\n', ['Error', '…', 'end']));
  assert.ok(matchesOutput('Error\nend\n', ['Error', '…', 'end']), 'a … line may stand for no line');
  assert.ok(matchesOutput('one\ntwo\n', ['…', 'two']));
  assert.ok(matchesOutput('one\ntwo\n', ['one', '…']));
});

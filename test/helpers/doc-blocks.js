'use strict';
// Code blocks of the Markdown docs, as docs/contributing.md's "Examples are programs" describes them:
// every ```js / ```cjs / ```mjs / ```ts block is a complete program; ```<lang> fragment marks one
// that is not, ```<lang> file=NAME a module the page's programs load (saved as NAME beside
// them, not run); a ```text block right after a program (blank lines between at most) is its
// expected standard output, where `…` stands for any run of characters within a line.

const RUNNABLE = new Set(['js', 'javascript', 'cjs', 'mjs', 'ts', 'mts', 'cts', 'typescript']);
const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/;

/** Every fenced block of `markdown`: `{ lang, flags, line, code }` (line is 1-based, of the opening fence). */
function fencedBlocks(markdown) {
  const lines = markdown.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang, rest] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = lines[j].trim();
      if (close.startsWith(fence[0].repeat(fence.length)) && close.replace(/[`~]/g, '') === '') break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    blocks.push({ lang: lang.toLowerCase(), flags: rest.split(/\s+/).filter(Boolean), line: i + 1, end: j + 1, code: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

/** How a runnable block runs: 'cjs', 'esm' or 'ts'; null for anything else. */
function kindOf(block) {
  if (!RUNNABLE.has(block.lang)) return null;
  if (block.lang === 'ts' || block.lang === 'typescript' || block.lang === 'mts' || block.lang === 'cts') return 'ts';
  if (block.lang === 'mjs') return 'esm';
  if (block.lang === 'cjs') return 'cjs';
  // A plain ```js block that imports is a module; anything else is CommonJS.
  return /^\s*(import\s[^(]|export\s)/m.test(block.code) ? 'esm' : 'cjs';
}

/**
 * The program blocks of one Markdown file: `{ kind, line, code, fragment, expected }`; `expected`
 * is the text block's lines, or null when the doc shows no output.
 */
function programs(markdown) {
  const blocks = fencedBlocks(markdown);
  const lines = markdown.split('\n');
  const out = [];
  for (let k = 0; k < blocks.length; k++) {
    const block = blocks[k];
    const kind = kindOf(block);
    if (kind === null) continue;
    let expected = null;
    const next = blocks[k + 1];
    if (next && next.lang === 'text') {
      const between = lines.slice(block.end, next.line - 1);
      if (between.every((l) => l.trim() === '')) expected = next.code.replace(/\s+$/, '').split('\n');
    }
    const file = block.flags.find((f) => f.startsWith('file='))?.slice('file='.length) ?? null;
    out.push({ kind, line: block.line, code: block.code, fragment: block.flags.includes('fragment'), sigint: block.flags.includes('sigint'), file, expected });
  }
  return out;
}

/**
 * Whether `actual` (a program's stdout) matches the expected lines: exact but for trailing
 * blanks; `…` within a line stands for any characters, a line that is only `…` for any number
 * of lines (none included).
 */
function matchesOutput(actual, expected) {
  const got = actual.split('\n').map((l) => l.replace(/\s+$/, '')).join('\n').replace(/\s+$/, '');
  const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  let pattern = '';
  let started = false;
  for (const raw of expected) {
    const line = raw.replace(/\s+$/, '');
    if (line.trim() === '…') {
      pattern += started ? '(?:\\n[^\\n]*)*?' : '(?:[^\\n]*\\n)*?';
      continue;
    }
    pattern += (started ? '\\n' : '') + line.split('…').map(escape).join('[^\\n]*');
    started = true;
  }
  return new RegExp(`^${pattern}$`).test(got);
}

module.exports = { fencedBlocks, kindOf, programs, matchesOutput };

'use strict';
// The issue #13 speed table: each bench records its headline rows here, and `npm run bench`
// prints them together at the end (one run, so the ratios are comparable).
const fs = require('fs');

function record(row, ratio, goal, detail = '') {
  const file = process.env.EVLOOP_BENCH_SUMMARY;
  if (!file) return;
  fs.appendFileSync(file, JSON.stringify({ row, ratio, goal, detail }) + '\n');
}

function printTable(file) {
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  if (lines.length === 0) return;
  console.log('\n=== speed table (this run; ratios, higher is better)');
  const width = Math.max(...lines.map((l) => l.row.length));
  for (const { row, ratio, goal, detail } of lines) {
    const r = typeof ratio === 'number' ? ratio.toFixed(2) + 'x' : 'n/a';
    const met = typeof ratio === 'number' && typeof goal === 'number' ? (ratio >= goal ? 'met' : 'NOT met') : '';
    console.log(`  ${row.padEnd(width)}  ${r.padStart(7)}  goal >= ${typeof goal === "number" ? goal.toFixed(2) : goal}x  ${met.padEnd(7)}  ${detail}`);
  }
}

module.exports = { record, printTable };

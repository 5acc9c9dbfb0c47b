'use strict';
// The echo rig's chart: one panel per scenario, one horizontal bar per server (msgs/s, each panel
// on its own scale, since the scenarios differ by orders of magnitude), labelled with the rate,
// the server CPU per message and the ratio to Node `net`. Plain SVG text, no library.

const COLORS = {
  evloop: '#1f6fb2',
  'evloop-streams': '#4a90cf',
  'evloop-async': '#7fb2e0',
  'evloop-raw': '#0b3f6e',
  net: '#6f8f3a',
  'c-epoll': '#444444',
  asyncio: '#c9962a',
  uvloop: '#d6702a',
};

const escape = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

function rate(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M/s`;
  if (v >= 1e3) return `${(v / 1e3).toFixed(1)} k/s`;
  return `${v.toFixed(0)} /s`;
}

function renderChart(doc) {
  const W = 860;
  const labelW = 130;
  const barW = 430;
  const rowH = 20;
  const x0 = 16;
  const parts = [];
  let y = 34;
  const text = (x, yy, s, attrs = '') => parts.push(`<text x="${x}" y="${yy}"${attrs}>${escape(s)}</text>`);
  text(x0, y, 'evloop TCP echo benchmark — messages per second (longer is better)', ' class="title"');
  y += 20;
  text(x0, y, `medians of ${doc.rounds} round(s) × ${doc.seconds} s; ${doc.pinned ?? 'not pinned'}; ${doc.machine.cpus} CPUs, Node ${doc.machine.node}; ${doc.generated.slice(0, 10)}`, ' class="note"');
  y += 14;
  for (const scenario of doc.scenarios) {
    const cells = doc.results.filter((c) => c.scenario === scenario.name);
    const max = Math.max(0, ...cells.map((c) => c.msgs_per_s ?? 0));
    y += 26;
    text(x0, y, `(${scenario.id}) ${scenario.title}`, ' class="panel"');
    y += 8;
    for (const c of cells) {
      const top = y;
      text(x0 + labelW - 8, top + 14, c.server, ' text-anchor="end"');
      if (c.msgs_per_s) {
        const w = max > 0 ? Math.max(1, (barW * c.msgs_per_s) / max) : 1;
        parts.push(`<rect x="${x0 + labelW}" y="${top + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[c.server] ?? '#888'}"/>`);
        const extra = [c.us_per_msg ? `${c.us_per_msg.toFixed(2)} µs/msg` : null, c.vs_net && c.server !== 'net' ? `${c.vs_net.toFixed(2)}× net` : null].filter(Boolean);
        text(x0 + labelW + w + 6, top + 14, `${rate(c.msgs_per_s)}${extra.length ? ` · ${extra.join(' · ')}` : ''}`, ' class="value"');
      } else {
        text(x0 + labelW + 6, top + 14, 'failed', ' class="value"');
      }
      y += rowH;
    }
  }
  y += 22;
  text(x0, y, 'µs/msg: server CPU time per message (from /proc). Server pinned to one core, the C load generator to the other.', ' class="note"');
  y += 14;
  const H = y;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    '<style>.title{font-size:15px;font-weight:bold}.panel{font-size:13px;font-weight:bold}.note{font-size:11px;fill:#555}.value{font-size:11px}</style>',
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

module.exports = { renderChart };

'use strict';
// An independent witness of a RedisQueue's contents over time, for the multi-process tests.
// Redis executes one command at a time and MONITOR streams every command it executes, those run
// inside Lua scripts included, in that order. Replaying the writes to the queue's stream, delay
// set and entry index gives the exact set of messages queued per key after every command (an
// entry is queued from its XADD until its XACK or XDEL), so "no key is ever queued twice" is
// checked at every step, not sampled; so is "a trim takes no entry still queued".
//
// Across a restart of the server the feed has a gap. After reconnecting, a snapshot script is
// run on another connection; its own EVAL line marks where in the feed the snapshot was taken,
// and the state is replaced by it there. What the gap hides is only what began and ended within
// it (the last commands before a stop and the first after the restart, before MONITOR is back).
const net = require('node:net');

// An entry is queued while undelivered (after the group's last delivery) or pending; the stream
// also holds acknowledged entries waiting for a trim.
const SNAPSHOT = `
local out = {}
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local lms, lseq = 0, 0
local pending = {}
local groups = redis.pcall('XINFO', 'GROUPS', KEYS[1])
if not groups.err and groups[1] then
  local g = groups[1]
  for i = 1, #g, 2 do if g[i] == 'last-delivered-id' then lms, lseq = parse(g[i + 1]) end end
  for _, p in ipairs(redis.call('XPENDING', KEYS[1], 'workers', '-', '+', 1000000000)) do pending[p[1]] = true end
end
for _, e in ipairs(redis.call('XRANGE', KEYS[1], '-', '+')) do
  local ms, seq = parse(e[1])
  local delivered = ms < lms or (ms == lms and seq <= lseq)
  if pending[e[1]] or not delivered then
    local r, k = '', ''
    for i = 1, #e[2], 2 do
      if e[2][i] == 'r' then r = e[2][i + 1] elseif e[2][i] == 'k' then k = e[2][i + 1] end
    end
    out[#out + 1] = { 's', e[1], r, k }
  end
end
for _, r in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local raw = redis.call('HGET', KEYS[3], r)
  out[#out + 1] = { 'd', '', r, raw and cjson.decode(raw).k or '' }
end
return cjson.encode(out)
`;

/** Splits one MONITOR line's quoted arguments, undoing Redis's escaping (sdscatrepr). */
function parseArgs(text) {
  const args = [];
  let i = 0;
  while (i < text.length) {
    const q = text.indexOf('"', i);
    if (q < 0) break;
    let s = '';
    let j = q + 1;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] !== '\\') {
        s += text[j];
        continue;
      }
      const c = text[++j];
      if (c === 'x') {
        s += String.fromCharCode(parseInt(text.slice(j + 1, j + 3), 16));
        j += 2;
      } else {
        s += { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b' }[c] ?? c;
      }
    }
    args.push(s);
    i = j + 1;
  }
  return args;
}

/** a < b for stream ids (ms-seq). */
function streamIdLess(a, b) {
  const [am, as] = a.split('-').map(BigInt);
  const [bm, bs] = b.split('-').map(BigInt);
  return am < bm || (am === bm && as < bs);
}

function encode(args) {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('');
}

class QueueMonitor {
  constructor(port, queue) {
    this.port = port;
    const base = `evloop:queue:{${queue}}:`;
    this.k = { stream: base + 'stream', delayed: base + 'delayed', msgs: base + 'msgs', eids: base + 'eids' };
    this.runs = new Map(); // runId → { key, entries: Set<entryId> | count, delayed }
    this.entryRun = new Map(); // stream entry id → runId
    this.pendingXadd = new Map(); // runId → XADDs whose entry id is not yet known
    this.live = new Map(); // key → Set<runId> queued (in the stream or the delay set)
    this.violations = [];
    this.xadds = []; // { runId, key, message, at (server time, s) }
    this.acks = new Map(); // runId → XACKs of its entries
    this.commands = 0;
    this.gaps = 0;
    this.socket = null;
    this._syncing = null; // while resyncing: { marker, lines: [], snapshot }
    this._snapshots = 0;
  }

  /** Connects and resolves once MONITOR has answered +OK: every command after that is seen. */
  start() {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.port, '127.0.0.1');
      this.socket = socket;
      let buf = '';
      let ok = false;
      socket.setEncoding('utf8');
      socket.once('connect', () => socket.write(encode(['MONITOR'])));
      socket.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\r\n')) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!ok) {
            if (line !== '+OK') return reject(new Error(`MONITOR answered ${line}`));
            ok = true;
            resolve();
            continue;
          }
          this._line(line);
        }
      });
      socket.once('error', (err) => {
        if (!ok) reject(err);
      });
      socket.once('close', () => {
        if (this.socket === socket) this.socket = null;
        if (!ok) reject(new Error('the server closed the MONITOR connection before +OK'));
      });
    });
  }

  /**
   * After the server restarted: MONITOR again, then a snapshot whose place in the feed is known.
   * Resolves once the state is the snapshot's plus what followed it.
   */
  async resync() {
    this.gaps++;
    this.socket?.destroy();
    const marker = `resync-${++this._snapshots}`;
    this._syncing = { marker, lines: [], snapshot: null, seen: false };
    await this.start();
    const reply = await new Promise((resolve, reject) => {
      const socket = net.connect(this.port, '127.0.0.1');
      let text = '';
      socket.setEncoding('utf8');
      socket.once('connect', () => socket.write(encode(['EVAL', SNAPSHOT, 3, this.k.stream, this.k.delayed, this.k.msgs, marker])));
      socket.on('data', (d) => {
        text += d;
        const m = /^\$(\d+)\r\n/.exec(text);
        if (text[0] === '-') {
          socket.destroy();
          reject(new Error(text));
        } else if (m && Buffer.byteLength(text) >= m[0].length + Number(m[1]) + 2) {
          socket.destroy();
          resolve(JSON.parse(text.slice(m[0].length, m[0].length + Number(m[1]))));
        }
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('the server closed the connection before the snapshot')));
    });
    // cjson encodes an empty table as {}.
    this._syncing.snapshot = Array.isArray(reply) ? reply : [];
    if (this._syncing.seen) this._applySnapshot();
    else await new Promise((resolve) => (this._syncing.done = resolve));
  }

  _applySnapshot() {
    const { snapshot, lines, done } = this._syncing;
    this._syncing = null;
    this.runs.clear();
    this.entryRun.clear();
    this.pendingXadd.clear();
    this.live.clear();
    for (const [kind, id, runId, key] of snapshot) {
      const run = this._run(runId, key);
      if (kind === 's') {
        run.entries.add(id);
        this.entryRun.set(id, runId);
      } else {
        run.delayed = true;
      }
      this._became(runId, 'snapshot');
    }
    for (const line of lines) this._line(line);
    done?.();
  }

  _run(runId, key) {
    let run = this.runs.get(runId);
    if (run === undefined) this.runs.set(runId, (run = { key, entries: new Set(), delayed: false }));
    if (key !== undefined && key !== '') run.key = key;
    return run;
  }

  /** A run's queued state may have changed: keep `live` and check the invariant. */
  _became(runId, why) {
    const run = this.runs.get(runId);
    const queued = run.entries.size + (run.pendingXadds ?? 0) + (run.delayed ? 1 : 0);
    const set = this.live.get(run.key) ?? new Set();
    if (queued > 0) {
      if (queued > 1) this.violations.push(`${runId} (${run.key}) queued ${queued} times at once (${why})`);
      for (const other of set) if (other !== runId) this.violations.push(`${run.key} queued twice at once: ${other} and ${runId} (${why})`);
      set.add(runId);
      this.live.set(run.key, set);
    } else {
      set.delete(runId);
      if (set.size === 0) this.live.delete(run.key);
    }
  }

  _line(line) {
    const sync = this._syncing;
    if (sync !== null) {
      if (!sync.seen) {
        // Before the snapshot's own EVAL: already in the snapshot.
        if (line.includes(`"${sync.marker}"`)) {
          sync.seen = true;
          if (sync.snapshot !== null) this._applySnapshot();
        }
        return;
      }
      if (sync.snapshot === null) return void sync.lines.push(line);
    }
    this.commands++;
    const at = Number(line.slice(1, line.indexOf(' ')));
    const args = parseArgs(line.slice(line.indexOf(']') + 1));
    if (args.length < 2) return;
    const cmd = args[0].toLowerCase();
    const key = args[1];
    const { stream, delayed, eids } = this.k;
    if (cmd === 'xadd' && key === stream) {
      const f = {};
      let i = 2;
      while (i < args.length && !['r', 'm', 'k', 'd'].includes(args[i])) i++; // past the id / options
      for (; i + 1 < args.length; i += 2) f[args[i]] = args[i + 1];
      const run = this._run(f.r, f.k);
      run.pendingXadds = (run.pendingXadds ?? 0) + 1;
      this.xadds.push({ runId: f.r, key: f.k, message: f.m, at });
      this._became(f.r, 'xadd');
    } else if (cmd === 'hset' && key === eids) {
      // The id of the XADD just before it (the enqueue scripts record it at once).
      const [id, runId] = [args[2], args[3]];
      const run = this._run(runId);
      if ((run.pendingXadds ?? 0) > 0) run.pendingXadds--;
      run.entries.add(id);
      this.entryRun.set(id, runId);
      this._became(runId, 'hset eids');
    } else if (cmd === 'xdel' && key === stream) {
      for (const id of args.slice(2)) {
        const runId = this.entryRun.get(id);
        if (runId === undefined) continue;
        this.runs.get(runId).entries.delete(id);
        this._became(runId, 'xdel');
      }
    } else if (cmd === 'hset' && key === this.k.msgs) {
      // A record (written before its message is placed): it names the run's key.
      this._run(args[2], JSON.parse(args[3]).k);
    } else if (cmd === 'hdel' && key === eids) {
      for (const id of args.slice(2)) this.entryRun.delete(id);
    } else if (cmd === 'xack' && key === stream) {
      // An acknowledged entry is no longer queued, whether it is deleted now or trimmed later.
      for (const id of args.slice(3)) {
        const runId = this.entryRun.get(id);
        if (runId === undefined) continue;
        this.acks.set(runId, (this.acks.get(runId) ?? 0) + 1);
        this.runs.get(runId).entries.delete(id);
        this._became(runId, 'xack');
      }
    } else if (cmd === 'xtrim' && key === stream) {
      // A trim (MINID) must take only acknowledged entries: one still queued below it is lost.
      const at = args.findIndex((a) => a.toLowerCase() === 'minid');
      const bound = args[at + 1] === '~' || args[at + 1] === '=' ? args[at + 2] : args[at + 1];
      for (const [runId, run] of this.runs) {
        for (const id of run.entries) if (streamIdLess(id, bound)) this.violations.push(`${runId} (${run.key}) trimmed while queued: ${id} < ${bound}`);
      }
    } else if (cmd === 'zadd' && key === delayed) {
      for (let i = 2; i + 1 < args.length; i += 2) {
        if (/^(nx|xx|gt|lt|ch|incr)$/i.test(args[i])) {
          i--;
          continue;
        }
        this._run(args[i + 1]).delayed = true;
        this._became(args[i + 1], 'zadd');
      }
    } else if (cmd === 'zrem' && key === delayed) {
      for (const runId of args.slice(2)) {
        const run = this.runs.get(runId);
        if (run === undefined) continue;
        run.delayed = false;
        this._became(runId, 'zrem');
      }
    }
  }

  /** Keys with a message queued now (per the feed). */
  queuedKeys() {
    return [...this.live.keys()];
  }

  close() {
    this.socket?.destroy();
    this.socket = null;
  }
}

module.exports = { QueueMonitor };

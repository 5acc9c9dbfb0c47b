'use strict';
// What batched sends save per message, without the rest of the loop: 64 socketpairs, 64 B
// written to each, either by one binding.send per fd (what transports did before) or copied into
// one buffer and sent by a single sendBatch (what the loop does at the end of a pass). Same
// syscalls either way; the difference is the JS→native crossing per fd, less the copy. Rounds
// alternate; the paired median is the figure.
// usage: node bench/echo-batch-send.js [--rounds 7]
const { binding } = require('evloop/internal');

const FDS = 64;
const BATCHES = 3000;
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 7;

const pairs = Array.from({ length: FDS }, () => binding.socketpair('stream'));
const msgs = pairs.map((_, i) => Buffer.alloc(64, i));
const drain = Buffer.allocUnsafe(64 * 1024);
const buf = Buffer.allocUnsafe(64 * 1024);
const ops = new Int32Array(4 * FDS);

function direct() {
  for (let i = 0; i < FDS; i++) {
    if (binding.send(pairs[i][0], msgs[i], 0, 64) !== 64) throw new Error('short send');
  }
}

function batched() {
  let used = 0;
  for (let i = 0; i < FDS; i++) {
    buf.set(msgs[i], used);
    ops[4 * i] = pairs[i][0];
    ops[4 * i + 1] = used;
    ops[4 * i + 2] = 64;
    used += 64;
  }
  if (binding.sendBatch(buf, ops, FDS) !== 0) throw new Error('short send');
}

// CPU nanoseconds per message of the sending side only (the reads that empty the pairs are not
// counted).
function measure(send) {
  const empty = () => {
    for (const [, b] of pairs) binding.recv(b, drain, 0, drain.length);
  };
  for (let i = 0; i < 200; i++) {
    send();
    empty();
  }
  let used = 0;
  for (let i = 0; i < BATCHES; i++) {
    const start = process.cpuUsage();
    send();
    const d = process.cpuUsage(start);
    used += d.user + d.system;
    empty();
  }
  return (used * 1000) / (BATCHES * FDS);
}

const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const one = [];
const batch = [];
for (let r = 0; r < rounds; r++) {
  one.push(measure(direct));
  batch.push(measure(batched));
}
for (const [a, b] of pairs) {
  binding.close(a);
  binding.close(b);
}
const saved = one.map((v, i) => v - batch[i]);
console.log(`${FDS} fds × 64 B, ${rounds} rounds: ns/msg send per fd ${median(one).toFixed(0)}, ` +
  `sendBatch ${median(batch).toFixed(0)}; saved per message (paired median) ${median(saved).toFixed(0)} ns`);

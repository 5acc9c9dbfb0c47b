'use strict';
// What the poller's auto-read saves per message, without the rest of the loop: 64 socketpairs,
// 64 B on each, then one wait that reads them all natively (AUTO_READ) vs one wait plus a
// binding.recv per fd (what transports did before). Same syscalls either way; the difference is
// the JS→native crossing per fd. Rounds alternate; the paired median is the figure.
// usage: node bench/echo-batch-read.js [--rounds 7]
const { binding } = require('evloop/internal');

const { READ, AUTO_READ, READ_NOT_DONE } = binding.constants;
const FDS = 64;
const BATCHES = 2000;
const SLAB = 512 * 1024;
const MIN_READ = 64 * 1024;
const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 7;

const pairs = Array.from({ length: FDS }, () => binding.socketpair('stream'));
const msg = Buffer.alloc(64, 1);

function batch(poller, slab, auto) {
  for (const [, b] of pairs) binding.send(b, msg, 0, msg.length);
  const n = poller.wait(0);
  const events = poller.events;
  const reads = poller.reads;
  let got = 0;
  for (let i = 0; i < 2 * n; i += 2) {
    const length = auto ? reads[i + 1] : READ_NOT_DONE;
    if (length === READ_NOT_DONE) {
      const r = binding.recv(events[i], slab, 0, MIN_READ);
      if (r > 0) got += slab.subarray(0, r).length;
    } else if (length > 0) got += slab.subarray(reads[i], reads[i] + length).length;
  }
  if (auto && SLAB - reads[reads.length - 1] < MIN_READ) poller.setReadSlab(slab, MIN_READ, 4 * MIN_READ);
  if (got !== FDS * msg.length) throw new Error(`read ${got} bytes, expected ${FDS * msg.length}`);
}

// CPU nanoseconds per message: the send, a share of the wait, and the read.
function measure(auto) {
  const poller = new binding.Poller(binding.backends[0]);
  const slab = Buffer.allocUnsafe(SLAB);
  poller.setReadSlab(slab, MIN_READ, 4 * MIN_READ);
  for (const [a] of pairs) poller.add(a, auto ? READ | AUTO_READ : READ);
  for (let i = 0; i < 200; i++) batch(poller, slab, auto);
  const start = process.cpuUsage();
  for (let i = 0; i < BATCHES; i++) batch(poller, slab, auto);
  const used = process.cpuUsage(start);
  poller.close();
  return ((used.user + used.system) * 1000) / (BATCHES * FDS);
}

const median = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
const recv = [];
const auto = [];
for (let r = 0; r < rounds; r++) {
  recv.push(measure(false));
  auto.push(measure(true));
}
for (const [a, b] of pairs) {
  binding.close(a);
  binding.close(b);
}
const saved = recv.map((v, i) => v - auto[i]);
console.log(`${binding.backends[0]}, ${FDS} fds × 64 B, ${rounds} rounds: ns/msg recv per fd ${median(recv).toFixed(0)}, ` +
  `auto-read ${median(auto).toFixed(0)}; saved per message (paired median) ${median(saved).toFixed(0)} ns`);

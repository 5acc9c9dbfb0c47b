'use strict';
// Spawn + communicate: `cat` gets 1 MiB on stdin and echoes it back; the time is from spawn to
// having all the output and the exit status. evloop's createSubprocessExec + communicate
// against Node's child_process.spawn + stdin.end + collecting stdout + 'close', alternating
// rounds in one process so both see the same machine.
//   node bench/subprocess.js [--ops 40] [--rounds 5] [--bytes 1048576]
const { spawn } = require('child_process');
const { run, createSubprocessExec } = require('..');

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}
const OPS = arg('ops', 40);
const ROUNDS = arg('rounds', 5);
const BYTES = arg('bytes', 1 << 20);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const input = Buffer.alloc(BYTES);
for (let i = 0; i < input.length; i++) input[i] = i & 0xff;

function check(out, code) {
  if (code !== 0 || out.length !== BYTES) throw new Error(`bad run: code ${code}, ${out.length} bytes`);
}

// Milliseconds per spawn + communicate.
function evloopRound() {
  return run(async () => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < OPS; i++) {
      const proc = await createSubprocessExec('cat', [], { stderr: 'inherit' });
      const [out] = await proc.communicate(input);
      check(out, proc.returncode);
    }
    return Number(process.hrtime.bigint() - t0) / 1e6 / OPS;
  });
}

function nodeOnce() {
  return new Promise((resolve, reject) => {
    const child = spawn('cat', [], { stdio: ['pipe', 'pipe', 'inherit'] });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => resolve([Buffer.concat(chunks), code]));
    child.stdin.end(input);
  });
}

async function nodeRound() {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) {
    const [out, code] = await nodeOnce();
    check(out, code);
  }
  return Number(process.hrtime.bigint() - t0) / 1e6 / OPS;
}

async function main() {
  await evloopRound(); // warm-up, both sides
  await nodeRound();
  const ev = [];
  const nd = [];
  for (let r = 0; r < ROUNDS; r++) {
    nd.push(await nodeRound());
    ev.push(await evloopRound());
  }
  const e = median(ev);
  const n = median(nd);
  console.log(`spawn + communicate of cat with ${BYTES} bytes, ${OPS} per round, median of ${ROUNDS} rounds`);
  console.log(`  child_process.spawn        ${n.toFixed(2)} ms/op`);
  console.log(`  evloop createSubprocessExec ${e.toFixed(2)} ms/op   ratio ${(n / e).toFixed(2)}x (speed vs child_process)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

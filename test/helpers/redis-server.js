'use strict';
// A real redis-server for the tests: its own free loopback port and temp dir, started and
// stopped by the test. Readiness is observed, never slept on: the server's own "Ready to accept
// connections" line, then a PING over a fresh socket that must answer +PONG.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const READY_LINE = /Ready to accept connections/;

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** One request/reply over a fresh plain socket: the tests' independent view of the server. */
function rawCommand(port, args, { timeoutMs = 10_000 } = {}) {
  return new Promise((resolve, reject) => {
    let frame = `*${args.length}\r\n`;
    for (const a of args) frame += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
    const socket = net.connect(port, '127.0.0.1');
    const chunks = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis-server on ${port} did not answer ${args[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => socket.write(frame));
    socket.on('data', (d) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString();
      // Replies the helper needs are single-line or one bulk string; a bulk is complete once
      // its declared length plus CRLF has arrived.
      const m = /^\$(-?\d+)\r\n/.exec(text);
      const complete = m ? Number(m[1]) < 0 || Buffer.byteLength(text) >= m[0].length + Number(m[1]) + 2 : text.endsWith('\r\n');
      if (!complete) return;
      clearTimeout(timer);
      socket.destroy();
      if (text[0] === '-') reject(Object.assign(new Error(text.slice(1).trim()), { code: text.slice(1).split(' ')[0] }));
      else if (m) resolve(Number(m[1]) < 0 ? null : text.slice(m[0].length, m[0].length + Number(m[1])));
      else resolve(text.slice(1, -2));
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

class RedisServer {
  constructor({ appendonly = false, password = null, extraArgs = [] } = {}) {
    this.appendonly = appendonly;
    this.password = password;
    this.extraArgs = extraArgs;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'evloop-redis-'));
    this.port = 0;
    this.proc = null;
    this.log = '';
    this._exited = null;
  }

  get url() {
    return `redis://${this.password ? `:${this.password}@` : ''}127.0.0.1:${this.port}`;
  }

  _args() {
    const args = [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '',
      '--protected-mode', 'no', '--appendonly', this.appendonly ? 'yes' : 'no', '--logfile', '',
      '--daemonize', 'no',
    ];
    if (this.password) args.push('--requirepass', this.password);
    return args.concat(this.extraArgs);
  }

  /** Spawns the server and resolves once it answers PING; a taken port is retried on another. */
  async start() {
    if (this.proc) throw new Error('redis-server already running');
    const keepPort = this.port !== 0;
    for (let attempt = 0; ; attempt++) {
      if (!keepPort) this.port = await freePort();
      try {
        await this._spawn();
        return this;
      } catch (err) {
        if (keepPort || attempt >= 4 || !/Address already in use/.test(this.log)) throw err;
      }
    }
  }

  _spawn() {
    this.log = '';
    const proc = spawn('redis-server', this._args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    // 'close', not 'exit': the stdio pipes are closed too, so a stopped server leaves no fd here.
    this._exited = new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
    return new Promise((resolve, reject) => {
      let ready = false;
      const onData = (d) => {
        this.log += d;
        if (!ready && READY_LINE.test(this.log)) {
          ready = true;
          this._ping().then(resolve, reject);
        }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('error', reject);
      this._exited.then(({ code, signal }) => {
        if (this.proc === proc) this.proc = null;
        if (!ready) reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${this.log}`));
      });
    });
  }

  async _ping() {
    const args = this.password ? ['AUTH', this.password] : null;
    if (args) await rawCommand(this.port, args);
    // A server loading its append-only file answers -LOADING until done; the ready line comes
    // after loading, so one PING settles it.
    const pong = this.password ? await this.command('PING') : await rawCommand(this.port, ['PING']);
    if (pong !== 'PONG') throw new Error(`redis-server answered ${pong} to PING`);
  }

  /** Runs one command on a fresh connection (AUTH first when the server has a password). */
  async command(...args) {
    if (!this.password) return rawCommand(this.port, args);
    // AUTH and the command pipelined on one socket: the second reply is the one wanted.
    return new Promise((resolve, reject) => {
      const enc = (xs) => `*${xs.length}\r\n` + xs.map((a) => `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`).join('');
      const socket = net.connect(this.port, '127.0.0.1');
      let text = '';
      socket.once('connect', () => socket.write(enc(['AUTH', this.password]) + enc(args)));
      socket.on('data', (d) => {
        text += d;
        const lines = text.split('\r\n');
        if (lines.length < 3) return;
        socket.destroy();
        const reply = lines[1];
        if (reply[0] === '-') reject(Object.assign(new Error(reply.slice(1)), { code: reply.slice(1).split(' ')[0] }));
        else if (reply[0] === '$') resolve(Number(reply.slice(1)) < 0 ? null : lines[2]);
        else resolve(reply.slice(1));
      });
      socket.once('error', reject);
    });
  }

  /** Sends `signal` and waits for the process to exit (SIGKILL: a crash, nothing flushed). */
  async kill(signal = 'SIGKILL') {
    const proc = this.proc;
    if (!proc) return;
    proc.kill(signal);
    await this._exited;
    this.proc = null;
  }

  /** Stops (SIGTERM: the server finishes its append-only file) and starts again on the same port and dir. */
  async restart({ signal = 'SIGTERM' } = {}) {
    await this.kill(signal);
    await this.start();
  }

  /** Stops the server and removes its dir. */
  async stop() {
    await this.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function redisServerAvailable() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Starts a server for a test file; `after(() => server.stop())` is the caller's part. */
async function startRedisServer(options) {
  return new RedisServer(options).start();
}

module.exports = { RedisServer, startRedisServer, rawCommand, freePort, redisServerAvailable };

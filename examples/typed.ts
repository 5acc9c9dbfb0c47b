// Compiled (not run) by test/types.test.js: the shipped .d.ts types both coroutine styles.
import { run, getRunningLoop, sleep, gather, waitFor, startServer, openConnection, Protocol, Pool, Status, statusCategory, createLogger, socket, toThread, type Socket, type SocketAddress, type Future, type Task, type StreamReader, type StreamWriter } from 'evloop';
import { createSubprocessExec, createSubprocessShell, type Process, type ReadPipeTransport, type WritePipeTransport } from 'evloop';
import { SslTransport, type TlsOption } from 'evloop';
import * as tls from 'tls';
import { Lock, Event, Condition, Semaphore, BoundedSemaphore, Barrier, Queue, LifoQueue, PriorityQueue, QueueShutDown, BrokenBarrierError, type QueueOptions } from 'evloop';
import { createRedisClient, RedisError, RedisConnectionError, type RedisClient, type RedisClientOptions, type DedicatedConnection } from 'evloop';

function* handler(reader: StreamReader, writer: StreamWriter) {
  const line: Buffer = yield* reader.readLine();
  writer.write(line);
  yield* writer.drain();
  writer.close();
}

function* generatorMain(): Generator<unknown, number, unknown> {
  const loop = getRunningLoop();
  const fut: Future<number> = loop.createFuture<number>();
  loop.callLater(1, () => fut.setResult(42));
  const v: number = yield* fut; // typed through Future's iterator
  const slept: string = yield* sleep(1, 'ok');
  const task: Task<string> = loop.createTask(function* () {
    yield* sleep(1);
    return slept;
  });
  const s: string = yield* task;
  return v + s.length;
}

class Echo extends Protocol {
  override dataReceived(data: Buffer): void {
    void data;
  }
}

async function asyncMain(): Promise<void> {
  const loop = getRunningLoop();
  const server = await startServer(handler, '127.0.0.1', 0);
  const [reader, writer] = await openConnection('127.0.0.1', server.address()!.port);
  writer.write(Buffer.from('hi\n'));
  const echoed: Buffer = await reader.readLine();
  const [a, b] = await gather(sleep(1, 'x'), sleep(1, 2));
  const n: number = await waitFor(loop.createTask(generatorMain), 1000);
  const protoServer = await loop.createServer(() => new Echo(), '127.0.0.1', 0);
  const pool = new Pool<{ id: number }>({ create: () => ({ id: 1 }), max: 2 });
  const id: number = await pool.use(async (conn) => conn.id);
  const category: string = statusCategory(Status.CANCELLED);
  createLogger({ level: 'warn' }).info('typed', `${echoed.length} ${a} ${b} ${n} ${id} ${category}`);
  pool.close();
  protoServer.close();
  server.close();
}

// Subprocesses and pipe transports (typed only: this function is not called).
function* subprocessMain(): Generator<unknown, number, unknown> {
  const proc: Process = yield* createSubprocessExec('cat', ['-'], { stderr: 'stdout', cwd: '/tmp', env: { A: '1' }, limit: 1024 });
  const [out, err]: [Buffer | null, Buffer | null] = yield* proc.communicate(Buffer.from('x'));
  const code: number = yield* proc.wait();
  const rc: number | null = proc.returncode;
  proc.sendSignal('SIGHUP');
  const shell: Process = yield* createSubprocessShell('exit 3', { stdin: 'ignore' });
  if (shell.stdout !== null) {
    const line: Buffer = yield* shell.stdout.readLine();
    void line;
  }
  shell.stdin?.write(Buffer.from('y'));
  const loop = getRunningLoop();
  const [rt, rp] = yield* loop.connectReadPipe(() => ({ dataReceived: (d: Buffer): void => void d }), 0);
  const reader: ReadPipeTransport = rt;
  reader.pauseReading();
  void rp;
  const [wt] = yield* loop.connectWritePipe(() => ({}), 1);
  const writer: WritePipeTransport = wt;
  writer.write(Buffer.from('z'));
  return code + (rc ?? 0) + (out?.length ?? 0) + (err?.length ?? 0);
}
void subprocessMain;

// TLS (typed only: not called).
async function tlsMain(): Promise<void> {
  const loop = getRunningLoop();
  const opts: TlsOption = { ca: 'PEM', ALPNProtocols: ['h2'], rejectUnauthorized: true };
  const [t, p] = await loop.createConnection(() => new Echo(), 'localhost', 443, { tls: opts, serverHostname: 'localhost', handshakeTimeout: 5000 });
  const secure: SslTransport = t;
  const cert: tls.PeerCertificate | null = secure.getExtraInfo('peercert');
  const alpn: string | null | undefined = secure.getExtraInfo('alpnProtocol');
  const server = await loop.createServer(() => new Echo(), '127.0.0.1', 0, { tls: tls.createSecureContext({}) });
  const [plain] = await loop.createConnection(() => new Echo(), 'localhost', 25);
  const upgraded: SslTransport = await loop.startTls(plain, p, true, { serverHostname: 'mail.test' });
  const [r, w] = await openConnection('localhost', 443, { tls: true, limit: 1024 });
  const streamServer = await startServer(handler, '127.0.0.1', 0, { tls: { key: 'k', cert: 'c' }, handshakeTimeout: 1000 });
  void [cert, alpn, server, upgraded, r, w, streamServer];
}
void tlsMain;

// Synchronization primitives and queues in both styles (typed only: not called).
function* syncMain(): Generator<unknown, number, unknown> {
  const lock = new Lock();
  const held: true = yield* lock.acquire();
  lock.release();
  const n: number = yield* lock.use(function* () {
    yield* sleep(1);
    return 1;
  });
  const ev = new Event();
  ev.set();
  const set: boolean = ev.isSet() && (yield* ev.wait());
  const cond = new Condition(lock);
  const ok: string = yield* cond.use(function* () {
    return yield* cond.waitFor(() => 'ready');
  });
  const sem: Semaphore = new BoundedSemaphore(2);
  const permits: number = yield* sem.use(async () => 2);
  const index: number = yield* new Barrier(1).wait();
  const opts: QueueOptions = { maxsize: 4 };
  const q = new Queue<string>(opts);
  yield* q.put('a');
  const item: string = yield* q.get();
  const lifo = new LifoQueue<number>();
  lifo.putNowait(1);
  const pq = new PriorityQueue<[number, string]>({ compare: (a, b) => a[0] - b[0] });
  pq.putNowait([1, 'x']);
  const top: [number, string] = pq.getNowait();
  q.shutdown(true);
  return (held ? 1 : 0) + n + (set ? 1 : 0) + ok.length + permits + index + item.length + lifo.qsize() + top[0];
}
void syncMain;

async function queueMain(): Promise<number> {
  const q = new Queue<number>();
  q.putNowait(1);
  q.shutdown();
  let sum = 0;
  for await (const x of q) sum += x;
  try {
    await q.get();
  } catch (e) {
    if (!(e instanceof QueueShutDown) && !(e instanceof BrokenBarrierError)) throw e;
  }
  await new Lock().use(async () => { await sleep(1); });
  return sum;
}
void queueMain;

// Low-level sockets and threads: typed results in both styles.
function* socketsAndThreads(): Generator<unknown, number, unknown> {
  const loop = getRunningLoop();
  const listener: Socket = socket({ family: 'IPv6', type: 'stream' });
  listener.bind(['::1', 0]);
  listener.listen();
  const [conn, peer]: [Socket, SocketAddress] = yield* loop.sockAccept(listener);
  const data: Buffer = yield* loop.sockRecv(conn, 1024);
  const n: number = yield* loop.sockRecvInto(conn, new Uint8Array(16));
  yield* loop.sockSendall(conn, data);
  const [dgram, from]: [Buffer, SocketAddress] = yield* loop.sockRecvfrom(socket({ type: 'dgram' }), 100);
  const sent: number = yield* loop.sockSendto(socket({ type: 'dgram' }), dgram, [from.address, from.port]);
  const sum: number = yield* toThread<number>('./work.js', 'add', 1, 2);
  const viaExecutor: string = yield* loop.runInExecutor<string>({ run: async (task: number) => String(task) }, 5);
  return n + sent + sum + viaExecutor.length + peer.port;
}

async function sockOption(sock: Socket): Promise<void> {
  const loop = getRunningLoop();
  await loop.sockConnect(sock, { address: '127.0.0.1', port: 80 });
  const [transport] = await loop.createConnection(() => new Echo(), { sock });
  const server = await startServer(handler, { sock: socket(), limit: 1024 });
  const [reader] = await openConnection({ sock: socket() });
  const line: Buffer = await reader.readLine();
  transport.close();
  server.close();
  void line;
}
void socketsAndThreads;
void sockOption;
function* redisMain(): Generator<unknown, number, unknown> {
  const opts: RedisClientOptions = { url: 'redis://127.0.0.1:6379/0', commandTimeout: 1000, protocol: 3 };
  const redis: RedisClient = createRedisClient(opts);
  const ok: string = yield* redis.set('k', Buffer.from('v'));
  const n: number = yield* redis.call('INCRBY', 'n', 5);
  const script = redis.defineScript('return 1');
  const one: number = yield* script.run(['k'], [1]);
  const tx: unknown[] | null = yield* redis.multi([['INCR', 'n']]);
  const popped: string[] | null = yield* redis.use(function* (conn: DedicatedConnection) {
    return (yield* conn.send(['BLPOP', 'l', 1], { timeout: 2000 })) as string[] | null;
  });
  try {
    yield* redis.hget('k', 'f');
  } catch (e) {
    if (!(e instanceof RedisError) && !(e instanceof RedisConnectionError)) throw e;
    const code: string = e.code;
    void code;
  }
  yield* redis.close();
  return ok.length + n + one + (tx?.length ?? 0) + (popped?.length ?? 0) + script.sha.length;
}
void redisMain;

void run(asyncMain);

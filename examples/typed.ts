// Compiled (not run) by test/types.test.js: the shipped .d.ts types both coroutine styles.
import { run, getRunningLoop, sleep, gather, waitFor, startServer, openConnection, Protocol, Pool, Status, statusCategory, createLogger, type Future, type Task, type StreamReader, type StreamWriter } from 'evloop';
import { createSubprocessExec, createSubprocessShell, type Process, type ReadPipeTransport, type WritePipeTransport } from 'evloop';

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

void run(asyncMain);

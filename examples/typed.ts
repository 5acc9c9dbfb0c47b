// Compiled (not run) by test/types.test.js: the shipped .d.ts types both coroutine styles.
import { run, getRunningLoop, sleep, gather, waitFor, startServer, openConnection, Protocol, Pool, Status, statusCategory, createLogger, type Future, type Task, type StreamReader, type StreamWriter } from 'evloop';

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

void run(asyncMain);

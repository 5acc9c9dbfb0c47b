// A Pool of stream connections to one host and port: each connection is `{ reader, writer }` as
// openConnection gives them; an idle one the peer closed (EOF, reset) or that we closed is
// dropped before it is handed out.
import type { ConnectionOptions } from '../io/connection';
import { Pool, type PoolOptions } from './pool';
import { openConnection, type StreamOptions, type StreamReader, type StreamWriter } from '../streams/streams';
import { validateFunction, validateObject } from '../util/validate';

export interface StreamConnection {
  readonly reader: StreamReader;
  readonly writer: StreamWriter;
}

export interface ConnectionPoolOptions
  extends Omit<PoolOptions<StreamConnection>, 'create' | 'destroy' | 'validate'>,
    StreamOptions,
    ConnectionOptions {
  /** An extra check on an idle connection, after the built-in one (open, no EOF, no error). */
  validate?: (conn: StreamConnection) => boolean | PromiseLike<boolean>;
}

/** True while neither side has closed the connection nor has it failed. */
export function isConnectionUsable(conn: StreamConnection): boolean {
  return !conn.writer.isClosing() && conn.reader.exception() === null && !conn.reader.eofReceived;
}

/** `connectionPool(host, port, { max, … })`: a ready Pool of `{ reader, writer }` connections. */
export function connectionPool(host: string, port: number, options: ConnectionPoolOptions): Pool<StreamConnection> {
  validateObject(options, 'options');
  const { limit, family, localAddr, noDelay, validate, ...poolOptions } = options;
  if (validate !== undefined) validateFunction(validate, 'options.validate');
  const connectOptions: StreamOptions & ConnectionOptions = {};
  if (limit !== undefined) connectOptions.limit = limit;
  if (family !== undefined) connectOptions.family = family;
  if (localAddr !== undefined) connectOptions.localAddr = localAddr;
  if (noDelay !== undefined) connectOptions.noDelay = noDelay;
  return new Pool<StreamConnection>({
    ...poolOptions,
    *create(): Generator<unknown, StreamConnection, unknown> {
      const [reader, writer] = yield* openConnection(host, port, connectOptions);
      return { reader, writer };
    },
    destroy(conn: StreamConnection): void {
      conn.writer.close();
    },
    validate:
      validate === undefined
        ? isConnectionUsable
        : (conn: StreamConnection) => isConnectionUsable(conn) && validate(conn),
  });
}

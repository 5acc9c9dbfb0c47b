// Outgoing stream connections (asyncio's create_connection and create_unix_connection).
import { binding } from '../native/binding';
import { domainOf, lookupAll, normalizeAddress, validateFamily, validateHost, validatePort, errorWithAddress, type AddressInput, type ResolvedAddress } from './address';
import { SocketTransport, type StreamProtocol } from './transports';
import { resolveTlsConfig, SslTransport, type TlsConfig, type TlsConnectionOptions } from './tls';
import type { FutureLike, IoLoop } from './transport-types';
import { codedError, invalidArgType, invalidArgValue, validateFunction, validateObject } from '../util/validate';
import { sockArgs, type Socket } from './socket';

export interface ConnectionOptions extends TlsConnectionOptions {
  /** 4 or 6: only that family when `host` is a name. */
  family?: 0 | 4 | 6 | 'IPv4' | 'IPv6';
  /** Bind the socket here before connecting. */
  localAddr?: AddressInput;
  /** TCP_NODELAY. Default true, as asyncio. */
  noDelay?: boolean;
  /** A connected stream Socket to use instead of connecting (asyncio's `sock=`); the transport takes it over. */
  sock?: Socket;
}

type Connected<P> = FutureLike<[SocketTransport, P]>;
type TlsConnected<P> = FutureLike<[SslTransport, P]>;

/**
 * Connects `fd` to each candidate in turn; resolves to the connected fd. The socket is made by
 * `open` per attempt, so a failed attempt never leaves an fd behind.
 */
function connectAny(
  loop: IoLoop,
  result: Connected<unknown>,
  attempts: Array<{ open(): number; connect(fd: number): number; where(err: unknown): unknown }>,
  onConnected: (fd: number) => void,
): void {
  const errors: Error[] = [];
  let index = 0;
  const next = (): void => {
    if (result.done()) return; // cancelled by the caller
    const attempt = attempts[index++];
    if (attempt === undefined) {
      result.setException(errors.length === 1 ? errors[0] : Object.assign(new AggregateError(errors, `Multiple exceptions: ${errors.map((e) => e.message).join(', ')}`), { code: (errors[0] as { code?: string }).code }));
      return;
    }
    let fd = -1;
    try {
      fd = attempt.open();
      if (attempt.connect(fd) === 1) return onConnected(fd);
    } catch (err) {
      if (fd >= 0) binding.close(fd);
      errors.push(attempt.where(err) as Error);
      return next();
    }
    // In progress: writability says it finished, SO_ERROR says how.
    const socketFd = fd;
    // finish (writability) and onCancel (a done callback, run a pass later) can both be due:
    // whichever runs first owns the fd; the other must not touch it again.
    let settled = false;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      loop.removeWriter(socketFd);
      result.removeDoneCallback(onCancel as never);
      if (result.done()) {
        binding.close(socketFd); // cancelled meanwhile: nobody will own this connection
        return;
      }
      try {
        binding.finishConnect(socketFd);
      } catch (err) {
        binding.close(socketFd);
        errors.push(attempt.where(err) as Error);
        return next();
      }
      onConnected(socketFd);
    };
    const onCancel = (): void => {
      if (settled || !result.cancelled()) return;
      settled = true;
      loop.removeWriter(socketFd);
      binding.close(socketFd);
    };
    loop.addWriter(socketFd, finish);
    result.addDoneCallback(onCancel as never);
  };
  next();
}

/** The app protocol for a connected fd; when the factory throws, the fd is closed and `result` fails. */
function makeProtocol<P>(fd: number, protocolFactory: () => P, result: { setException(e: unknown): void }): P | null {
  try {
    return protocolFactory();
  } catch (err) {
    binding.close(fd);
    result.setException(err);
    return null;
  }
}

/**
 * Settles `result` once the transport's `waiter` has: `[transport, protocol]` when it came up,
 * else the failure; a result already done (cancelled meanwhile) means no one will ever own the
 * connection, so it is aborted.
 */
function settleWhenUp<T extends { abort(): void }, P>(waiter: { addDoneCallback(cb: never): void; cancelled(): boolean; exception(): unknown }, result: { done(): boolean; setException(e: unknown): void; setResult(v: [T, P]): void }, transport: T, protocol: P, onSettled?: () => void): void {
  waiter.addDoneCallback((() => {
    onSettled?.();
    if (result.done()) {
      transport.abort();
    } else if (waiter.cancelled() || waiter.exception()) {
      transport.abort();
      result.setException(waiter.exception() ?? codedError(Error, 'ECONNABORTED', 'connection aborted'));
    } else {
      result.setResult([transport, protocol]);
    }
  }) as never);
}

function startTransport<P extends StreamProtocol>(loop: IoLoop, fd: number, protocolFactory: () => P, result: Connected<P>, unix: boolean): void {
  const protocol = makeProtocol(fd, protocolFactory, result);
  if (protocol === null) return;
  const waiter = loop.createFuture<void>();
  settleWhenUp(waiter, result, new SocketTransport(loop, fd, protocol, { waiter, unix }), protocol);
}

/** A connected Socket becomes the transport's fd (asyncio's `sock=`). */
function connectSock<P extends StreamProtocol>(loop: IoLoop, protocolFactory: () => P, sock: Socket, opts: ConnectionOptions): Connected<P> {
  const result = loop.createFuture<[SocketTransport, P]>();
  let peer: string;
  try {
    peer = (sock.remoteAddress() as { address?: string }).address ?? ''; // ENOTCONN: the caller keeps the socket
  } catch (err) {
    result.setException(err);
    return result;
  }
  // Without serverHostname the certificate is checked against the peer's address.
  const tlsConfig = tlsConfigOf(opts, peer);
  const fd = sock._detach();
  const unix = sock.family === 'unix';
  if (opts.noDelay !== false && !unix) binding.setsockopt(fd, 'TCP_NODELAY', 1);
  if (tlsConfig === null) startTransport(loop, fd, protocolFactory, result, unix);
  else startTlsTransport(loop, fd, protocolFactory, result as never, tlsConfig);
  return result;
}

/**
 * The TCP connection is up: run the TLS handshake over it. The result settles with the
 * handshake (asyncio's order: the app protocol's connectionMade runs once it is done).
 */
function startTlsTransport<P extends StreamProtocol>(loop: IoLoop, fd: number, protocolFactory: () => P, result: TlsConnected<P>, config: TlsConfig): void {
  const protocol = makeProtocol(fd, protocolFactory, result);
  if (protocol === null) return;
  const waiter = loop.createFuture<SslTransport>();
  const ssl = new SslTransport(loop, protocol, config, waiter, true);
  new SocketTransport(loop, fd, ssl.wireProtocol);
  const onCancel = (): void => {
    if (result.cancelled()) ssl.abort();
  };
  result.addDoneCallback(onCancel as never);
  settleWhenUp(waiter, result, ssl, protocol, () => result.removeDoneCallback(onCancel as never));
}

/** `loop.createConnection(protocolFactory, host, port, opts)` → `[transport, protocol]` once `connectionMade` ran. */
export function createConnection<P extends StreamProtocol>(
  loop: IoLoop,
  protocolFactory: () => P,
  host: string,
  port: number,
  opts: ConnectionOptions = {},
): Connected<P> {
  validateFunction(protocolFactory, 'protocolFactory');
  const given = sockArgs({ unix: false }, host, port, opts as ConnectionOptions | undefined);
  if (given !== null) {
    const [sock, rest] = given;
    if (rest.localAddr !== undefined || rest.family !== undefined) throw invalidArgValue('options.sock', sock, 'cannot be combined with localAddr or family');
    return connectSock(loop, protocolFactory, sock, rest);
  }
  validateHost(host);
  validatePort(port);
  validateObject(opts, 'options');
  const family = validateFamily(opts.family);
  const local = opts.localAddr === undefined ? null : normalizeAddress(opts.localAddr, 'options.localAddr');
  const noDelay = opts.noDelay !== false;
  const tlsConfig = tlsConfigOf(opts, host);
  const result = loop.createFuture<[SocketTransport, P]>();

  lookupAll(host, family, (err, addrs: ResolvedAddress[]) => {
    if (result.done()) return;
    if (err) return result.setException(err);
    const attempts = addrs.map((addr) => ({
      open: (): number => binding.socket(domainOf(addr.family), 'stream'),
      // Options and bind belong to the attempt after open(), so a failing bind (EADDRINUSE)
      // leaves the fd with connectAny, which closes it.
      connect(fd: number): number {
        if (noDelay) binding.setsockopt(fd, 'TCP_NODELAY', 1);
        if (local !== null) binding.bind(fd, local.host, local.port);
        return binding.connect(fd, addr.address, port);
      },
      // A failed bind names the local address; anything else the one we were connecting to.
      where: (err: unknown): unknown =>
        local !== null && (err as { syscall?: unknown }).syscall === 'bind' ? errorWithAddress(err, local.host, local.port) : errorWithAddress(err, addr.address, port),
    }));
    connectAny(loop, result as Connected<unknown>, attempts, (fd) =>
      tlsConfig === null ? startTransport(loop, fd, protocolFactory, result, false) : startTlsTransport(loop, fd, protocolFactory, result as never, tlsConfig),
    );
  });
  return result;
}

function tlsConfigOf(opts: TlsConnectionOptions, host: string): TlsConfig | null {
  if (opts.tls === undefined || opts.tls === null || (opts.tls as unknown) === false) {
    if (opts.serverHostname !== undefined) throw invalidArgValue('options.serverHostname', opts.serverHostname, 'is only meaningful with options.tls');
    if (opts.handshakeTimeout !== undefined) throw invalidArgValue('options.handshakeTimeout', opts.handshakeTimeout, 'is only meaningful with options.tls');
    return null;
  }
  return resolveTlsConfig(opts.tls, { serverSide: false, serverHostname: opts.serverHostname, handshakeTimeout: opts.handshakeTimeout, host });
}

/** `loop.createUnixConnection(protocolFactory, path, opts)`. */
export function createUnixConnection<P extends StreamProtocol>(loop: IoLoop, protocolFactory: () => P, path: string, opts: { sock?: Socket } = {}): Connected<P> {
  validateFunction(protocolFactory, 'protocolFactory');
  const given = sockArgs({ unix: true }, path, undefined, opts as { sock?: Socket } | undefined);
  if (given !== null) return connectSock(loop, protocolFactory, given[0], { noDelay: false });
  if (typeof path !== 'string' || path.length === 0) throw invalidArgType('path', 'a non-empty string', path);
  validateObject(opts, 'options');
  const result = loop.createFuture<[SocketTransport, P]>();
  const attempts = [
    {
      open: (): number => binding.socket('unix', 'stream'),
      connect: (fd: number): number => binding.connectUnix(fd, path),
      where: (err: unknown): unknown => errorWithAddress(err, path),
    },
  ];
  connectAny(loop, result as Connected<unknown>, attempts, (fd) => startTransport(loop, fd, protocolFactory, result, true));
  return result;
}

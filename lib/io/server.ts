// Listening sockets and the connections they accept (asyncio's Server and create_server).
import * as fs from 'fs';
import { binding, type SocketAddress } from '../native/binding';
import { toLogger, type Logger } from '../util/logger';
import { domainOf, formatAddress, lookupAll, validateFamily, validateHost, validatePort, errorWithAddress, type ResolvedAddress } from './address';
import { SocketTransport, type StreamProtocol, type TransportOwner } from './transports';
import { resolveTlsConfig, SslTransport, type TlsOption } from './tls';
import type { FutureLike, IoLoop } from './transport-types';
import { sockArgs, type Socket } from './socket';
import { invalidArgType, invalidArgValue, validateFunction, validateInteger, validateMs, validateObject } from '../util/validate';

export interface ServerOptions {
  /** listen() backlog; also how many connections one readiness accepts at most. Default 100. */
  backlog?: number;
  /** SO_REUSEADDR on the listening socket. Default true, as asyncio on POSIX. */
  reuseAddress?: boolean;
  reusePort?: boolean;
  /** 4 or 6: only that family when `host` is a name. */
  family?: 0 | 4 | 6 | 'IPv4' | 'IPv6';
  /** IPV6_V6ONLY for IPv6 listeners. */
  ipv6Only?: boolean;
  /** TCP_NODELAY on accepted connections. Default true, as asyncio. */
  noDelay?: boolean;
  /** When accept fails for lack of fds (EMFILE, ENFILE, ENOBUFS, ENOMEM): pause accepting this long. Default 1000 ms. */
  acceptRetryDelay?: number;
  /** Start accepting at once (default) or at `startServing()`. */
  startServing?: boolean;
  /**
   * An evloop or pino logger for this server: start and close at info, accept failures at
   * error. Without one, accept failures go to the loop's exception handler (asyncio's way).
   */
  logger?: unknown;
  /** A bound stream Socket to serve on instead of an address (asyncio's `sock=`); the server takes it over. */
  sock?: Socket;
  /** Serve TLS: Node's secure-context options (key and cert at least) or a tls.SecureContext. */
  tls?: TlsOption | null;
  /** Milliseconds a client's handshake may take before the connection is dropped. Default 60 000. */
  handshakeTimeout?: number;
}

export type ProtocolFactory = () => StreamProtocol;

const OUT_OF_RESOURCES = new Set(['EMFILE', 'ENFILE', 'ENOBUFS', 'ENOMEM']);

interface ServerConfig {
  logger: Logger | null;
  backlog: number;
  noDelay: boolean;
  acceptRetryDelay: number;
  unixPath: string | null;
}

export class Server implements TransportOwner {
  readonly #loop: IoLoop;
  readonly #protocolFactory: ProtocolFactory;
  readonly #config: ServerConfig;
  #listeners: number[];
  #serving = false;
  // The transports this server accepted and that have not yet called connectionLost.
  readonly #clients = new Set<SocketTransport>();
  #closeWaiters: Array<FutureLike<void>> = [];
  #retryTimer: { cancel(): void } | null = null;

  constructor(loop: IoLoop, protocolFactory: ProtocolFactory, listeners: number[], config: ServerConfig) {
    this.#loop = loop;
    this.#protocolFactory = protocolFactory;
    this.#listeners = listeners;
    this.#config = config;
    loop._trackResource(this);
  }

  /** The address of the first listening socket, as Node's `server.address()`. */
  address(): SocketAddress | null {
    const fd = this.#listeners[0];
    return fd === undefined ? null : binding.getsockname(fd);
  }

  /** Every listening socket's address (a name may resolve to several). */
  addresses(): SocketAddress[] {
    return this.#listeners.map((fd) => binding.getsockname(fd));
  }

  isServing(): boolean {
    return this.#serving;
  }

  getLoop(): IoLoop {
    return this.#loop;
  }

  startServing(): void {
    if (this.#serving || this.#listeners.length === 0) return;
    this.#serving = true;
    for (const fd of this.#listeners) this.#loop.addReader(fd, this.#accept, fd);
    this.#config.logger?.info('serving', this.addresses().map(formatAddress).join(' '), 'server');
  }

  /** Stops listening. Connections already accepted go on; `waitClosed()` waits for them too. */
  close(): void {
    if (this.#listeners.length === 0) return;
    this.#config.logger?.info('server closed', this.addresses().map(formatAddress).join(' '), 'server');
    this.#retryTimer?.cancel();
    this.#retryTimer = null;
    this.#closeListeners();
    this.#wakeCloseWaiters();
  }

  #closeListeners(): void {
    for (const fd of this.#listeners) {
      this.#loop.removeReader(fd);
      binding.close(fd);
    }
    this.#listeners = [];
    this.#serving = false;
    this.#loop._untrackResource(this);
    if (this.#config.unixPath !== null) unlinkSocket(this.#config.unixPath);
  }

  /** @internal The loop is closing with this server still listening: release its fds. */
  _closeForLoop(): void {
    this.#retryTimer = null;
    this.#closeListeners();
  }

  /** Resolves once the server is closed and every connection it accepted has closed. */
  waitClosed(): FutureLike<void> {
    const fut = this.#loop.createFuture<void>();
    if (this.#listeners.length === 0 && this.#clients.size === 0) fut.setResult(undefined);
    else this.#closeWaiters.push(fut);
    return fut;
  }

  /**
   * Closes every connection this server accepted (asyncio 3.13's `close_clients`): each
   * transport flushes what it has queued, then closes. With `close()` first, `waitClosed()` then
   * resolves once they are gone.
   */
  closeClients(): void {
    for (const transport of [...this.#clients]) transport.close();
  }

  /** Aborts every accepted connection at once, dropping queued writes (asyncio 3.13's `abort_clients`). */
  abortClients(): void {
    for (const transport of [...this.#clients]) transport.abort();
  }

  /** @internal Called by an accepted transport once its protocol's connectionLost has run. */
  connectionClosed(transport: SocketTransport): void {
    this.#clients.delete(transport);
    this.#wakeCloseWaiters();
  }

  #wakeCloseWaiters(): void {
    if (this.#listeners.length > 0 || this.#clients.size > 0) return;
    const waiters = this.#closeWaiters;
    this.#closeWaiters = [];
    for (const fut of waiters) if (!fut.done()) fut.setResult(undefined);
  }

  readonly #accept = (listener: number): void => {
    const { backlog, noDelay } = this.#config;
    // A protocolFactory may close the server: stop accepting on an fd that is gone.
    for (let i = 0; i < backlog && this.#serving; i++) {
      let fd: number;
      try {
        fd = binding.accept(listener);
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (OUT_OF_RESOURCES.has(code)) {
          // Out of fds: keep serving the connections we have, stop accepting for a while
          // (level-triggered polling would otherwise spin on the pending connection).
          this.#reportAcceptError('socket.accept() out of system resource', err, `${code}: accepting again in ${this.#config.acceptRetryDelay} ms`);
          this.#pauseAccepting();
        } else if (code !== 'ECONNABORTED' && code !== 'EPROTO' && code !== 'EINTR') {
          this.#reportAcceptError('socket.accept() failed', err, code);
        }
        return;
      }
      if (fd < 0) return;
      if (noDelay) {
        try {
          binding.setsockopt(fd, 'TCP_NODELAY', 1);
        } catch {
          // Unix sockets have no Nagle; a connection already reset fails on its first read.
        }
      }
      let protocol: StreamProtocol;
      try {
        protocol = this.#protocolFactory();
      } catch (err) {
        binding.close(fd);
        this.#loop.callExceptionHandler({ message: 'protocolFactory() failed', exception: err, server: this });
        continue;
      }
      this.#clients.add(new SocketTransport(this.#loop, fd, protocol, { owner: this, unix: this.#config.unixPath !== null }));
    }
  };

  #reportAcceptError(message: string, err: unknown, detail: string): void {
    const logger = this.#config.logger;
    if (logger === null) this.#loop.callExceptionHandler({ message, exception: err, server: this });
    else logger.error(message, detail, formatAddress(this.address() ?? undefined));
  }

  #pauseAccepting(): void {
    for (const fd of this.#listeners) this.#loop.removeReader(fd);
    this.#retryTimer = this.#loop.callLater(this.#config.acceptRetryDelay, () => {
      this.#retryTimer = null;
      if (this.#serving) for (const fd of this.#listeners) this.#loop.addReader(fd, this.#accept, fd);
    });
  }

  get sockets(): Array<{ fd: number; address: SocketAddress }> {
    return this.#listeners.map((fd) => ({ fd, address: binding.getsockname(fd) }));
  }
}

interface CommonServerOptions {
  logger: Logger | null;
  backlog: number;
  noDelay: boolean;
  acceptRetryDelay: number;
  startServing: boolean;
}

function commonOptions(opts: ServerOptions): CommonServerOptions {
  validateObject(opts, 'options');
  const backlog = opts.backlog === undefined ? 100 : validateInteger(opts.backlog, 'options.backlog', 1, 65535);
  const acceptRetryDelay = opts.acceptRetryDelay === undefined ? 1000 : validateMs(opts.acceptRetryDelay, 'options.acceptRetryDelay');
  const logger = opts.logger === undefined || opts.logger === null ? null : toLogger(opts.logger);
  return { logger, backlog, noDelay: opts.noDelay !== false, acceptRetryDelay, startServing: opts.startServing !== false };
}

function openListener(addr: ResolvedAddress, port: number, opts: ServerOptions, backlog: number): number {
  const fd = binding.socket(domainOf(addr.family), 'stream');
  try {
    if (opts.reuseAddress !== false) binding.setsockopt(fd, 'SO_REUSEADDR', 1);
    if (opts.reusePort) binding.setsockopt(fd, 'SO_REUSEPORT', 1);
    if (addr.family === 6 && opts.ipv6Only !== undefined) binding.setsockopt(fd, 'IPV6_V6ONLY', opts.ipv6Only ? 1 : 0);
    binding.bind(fd, addr.address, port);
    binding.listen(fd, backlog);
    return fd;
  } catch (err) {
    binding.close(fd);
    throw errorWithAddress(err, addr.address, port);
  }
}

/** A bound Socket becomes the server's one listener (asyncio's `sock=`). */
function serveSock(loop: IoLoop, protocolFactory: ProtocolFactory, sock: Socket, common: CommonServerOptions, noDelay: boolean): FutureLike<Server> {
  const fut = loop.createFuture<Server>();
  try {
    binding.listen(sock._checkOpen(), common.backlog); // a failure leaves the socket with the caller
  } catch (err) {
    fut.setException(err);
    return fut;
  }
  const fd = sock._detach();
  const server = new Server(loop, protocolFactory, [fd], { ...common, noDelay: noDelay && sock.family !== 'unix', unixPath: null });
  if (common.startServing) server.startServing();
  fut.setResult(server);
  return fut;
}

/**
 * `loop.createServer(protocolFactory, host, port, opts)`: listens on every address `host`
 * resolves to (`host` null or undefined: all IPv4 interfaces). Resolves to the Server.
 * `(protocolFactory, { sock })` serves on a bound Socket instead.
 */
export function createServer(
  loop: IoLoop,
  protocolFactory: ProtocolFactory,
  host: string | string[] | null | undefined,
  port: number,
  opts: ServerOptions = {},
): FutureLike<Server> {
  validateFunction(protocolFactory, 'protocolFactory');
  const given = sockArgs({ unix: false }, host, port, opts as ServerOptions | undefined);
  if (given !== null) {
    const [sock, rest] = given;
    for (const key of ['family', 'reuseAddress', 'reusePort', 'ipv6Only'] as const) {
      if (rest[key] !== undefined) throw invalidArgValue('options.sock', sock, `cannot be combined with ${key}`);
    }
    const common = commonOptions(rest);
    return serveSock(loop, withTls(loop, protocolFactory, rest), sock, common, common.noDelay);
  }
  const hosts = host === null || host === undefined ? ['0.0.0.0'] : Array.isArray(host) ? host : [host];
  hosts.forEach((h, i) => validateHost(h, Array.isArray(host) ? `host[${i}]` : 'host'));
  validatePort(port);
  const common = commonOptions(opts);
  const family = validateFamily(opts.family);
  const factory = withTls(loop, protocolFactory, opts);
  const fut = loop.createFuture<Server>();

  let outstanding = hosts.length;
  const resolved: ResolvedAddress[] = [];
  let failed = false;
  for (const h of hosts) {
    lookupAll(h, family, (err, addrs) => {
      if (failed || fut.done()) return;
      if (err) {
        failed = true;
        fut.setException(err);
        return;
      }
      resolved.push(...addrs);
      if (--outstanding > 0) return;
      const listeners: number[] = [];
      try {
        const seen = new Set<string>();
        for (const addr of resolved) {
          const key = `${addr.family}/${addr.address}`;
          if (seen.has(key)) continue;
          seen.add(key);
          listeners.push(openListener(addr, port, opts, common.backlog));
        }
      } catch (e) {
        for (const fd of listeners) binding.close(fd);
        fut.setException(e);
        return;
      }
      const server = new Server(loop, factory, listeners, { ...common, unixPath: null });
      if (common.startServing) server.startServing();
      fut.setResult(server);
    });
  }
  return fut;
}

/**
 * With `options.tls`, each accepted connection gets the application's protocol behind a TLS
 * layer: the raw transport drives the layer, the application sees an SslTransport once the
 * handshake is done. A failed handshake just drops the connection (asyncio's way).
 */
function withTls(loop: IoLoop, protocolFactory: ProtocolFactory, opts: ServerOptions): ProtocolFactory {
  if (opts.tls === undefined || opts.tls === null || (opts.tls as unknown) === false) {
    if (opts.handshakeTimeout !== undefined) throw invalidArgValue('options.handshakeTimeout', opts.handshakeTimeout, 'is only meaningful with options.tls');
    return protocolFactory;
  }
  // One secure context for all connections: building it parses keys and certificates.
  const config = resolveTlsConfig(opts.tls, { serverSide: true, handshakeTimeout: opts.handshakeTimeout });
  return () => new SslTransport(loop, protocolFactory(), config, null, true).wireProtocol;
}

export interface UnixServerOptions extends Omit<ServerOptions, 'reuseAddress' | 'reusePort' | 'family' | 'ipv6Only' | 'noDelay' | 'tls' | 'handshakeTimeout'> {
  /** Remove a stale socket file left at `path` first (never a file of another kind). Default true. */
  cleanupSocket?: boolean;
}

function unlinkSocket(path: string): void {
  try {
    if (fs.lstatSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // already gone
  }
}

/** `loop.createUnixServer(protocolFactory, path, opts)`. */
export function createUnixServer(loop: IoLoop, protocolFactory: ProtocolFactory, path: string, opts: UnixServerOptions = {}): FutureLike<Server> {
  validateFunction(protocolFactory, 'protocolFactory');
  const given = sockArgs({ unix: true }, path, undefined, opts as UnixServerOptions | undefined);
  if (given !== null) {
    const [sock, rest] = given;
    if (rest.cleanupSocket !== undefined) throw invalidArgValue('options.sock', sock, 'cannot be combined with cleanupSocket');
    return serveSock(loop, protocolFactory, sock, commonOptions(rest), false);
  }
  if (typeof path !== 'string' || path.length === 0) throw invalidArgType('path', 'a non-empty string', path);
  const common = commonOptions(opts);
  const fut = loop.createFuture<Server>();
  if (opts.cleanupSocket !== false) unlinkSocket(path);
  const fd = binding.socket('unix', 'stream');
  try {
    binding.bindUnix(fd, path);
    binding.listen(fd, common.backlog);
  } catch (err) {
    binding.close(fd);
    fut.setException(errorWithAddress(err, path));
    return fut;
  }
  const server = new Server(loop, protocolFactory, [fd], { ...common, noDelay: false, unixPath: path });
  if (common.startServing) server.startServing();
  fut.setResult(server);
  return fut;
}

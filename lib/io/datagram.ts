// UDP endpoints (asyncio's create_datagram_endpoint and _SelectorDatagramTransport).
import { Buffer } from 'node:buffer';
import { binding, type SocketAddress } from '../native/binding';
import { domainOf, lookupAll, normalizeAddress, validateFamily, errorWithAddress, type AddressInput, type ResolvedAddress } from './address';
import { releaseFd, validateBytes } from './transports';
import type { DatagramProtocolLike } from './protocols';
import type { DatagramTransport, FutureLike, IoLoop } from './transport-types';
import { codedError, invalidArgValue, validateFunction, validateObject } from '../util/validate';
import { validateSocket, type Socket } from './socket';

// The largest UDP payload: a datagram is read whole into this buffer, then copied out at its
// own size (datagrams are kept by protocols far more often than stream chunks are).
const MAX_DATAGRAM = 65536;

export interface DatagramOptions {
  localAddr?: AddressInput;
  remoteAddr?: AddressInput;
  family?: 0 | 4 | 6 | 'IPv4' | 'IPv6';
  reuseAddress?: boolean;
  reusePort?: boolean;
  allowBroadcast?: boolean;
  /** An IPv4/IPv6 datagram Socket to use as is (asyncio's `sock=`); the transport takes it over. */
  sock?: Socket;
}

interface QueuedDatagram {
  data: Uint8Array;
  host: string | undefined;
  port: number | undefined;
}

export class UdpTransport implements DatagramTransport {
  readonly #loop: IoLoop;
  #fd: number;
  #protocol: DatagramProtocolLike;
  readonly #connected: boolean;
  readonly #family: 4 | 6;
  readonly #readBuffer = Buffer.allocUnsafe(MAX_DATAGRAM);
  #queue: QueuedDatagram[] = [];
  #queued = 0;
  #closing = false;
  #lost = false;
  readonly #readReady = (): void => this.#onReadable();
  readonly #writeReady = (): void => this.#onWritable();

  constructor(loop: IoLoop, fd: number, protocol: DatagramProtocolLike, connected: boolean, family: 4 | 6, waiter: FutureLike<void>) {
    this.#loop = loop;
    this.#fd = fd;
    this.#protocol = protocol;
    this.#connected = connected;
    this.#family = family;
    loop._trackResource(this);
    loop.callSoon(() => {
      try {
        protocol.connectionMade?.(this as never);
      } catch (err) {
        waiter.setException(err);
        this.abort();
        return;
      }
      if (!this.#closing) loop.addReader(fd, this.#readReady);
      if (!waiter.done()) waiter.setResult(undefined);
    });
  }

  #onReadable(): void {
    if (this.#lost) return;
    let got: ReturnType<typeof binding.recvfrom>;
    try {
      got = binding.recvfrom(this.#fd, this.#readBuffer, 0, MAX_DATAGRAM);
    } catch (err) {
      // ICMP errors (ECONNREFUSED on a connected socket, …) belong to the protocol, not to the loop.
      this.#errorReceived(err as Error);
      return;
    }
    if (got === -1) return;
    const data = Buffer.from(this.#readBuffer.subarray(0, got.bytes));
    const addr: SocketAddress = { address: got.address, family: got.family, port: got.port };
    try {
      this.#protocol.datagramReceived?.(data, addr);
    } catch (err) {
      this.#fatalError(err, 'Fatal error: protocol.datagramReceived() call failed.');
    }
  }

  #errorReceived(err: Error): void {
    try {
      this.#protocol.errorReceived?.(err);
    } catch (e) {
      this.#fatalError(e, 'Fatal error: protocol.errorReceived() call failed.');
    }
  }

  sendto(data: Uint8Array, addr?: AddressInput | SocketAddress): void {
    validateBytes(data);
    let host: string | undefined;
    let port: number | undefined;
    if (addr !== undefined && addr !== null) {
      ({ host, port } = normalizeAddress(addr, 'addr'));
      if (this.#connected) {
        throw invalidArgValue('addr', addr, 'must be omitted on an endpoint connected to remoteAddr');
      }
    } else if (!this.#connected) {
      throw codedError(TypeError, 'ERR_MISSING_ARGS', 'The "addr" argument is required on an endpoint with no remoteAddr');
    }
    if (this.#lost) return;
    if (this.#queued === 0) {
      try {
        if (binding.sendto(this.#fd, data, 0, data.length, host, port) >= 0) return;
      } catch (err) {
        // As asyncio: an OS error from sendto (EMSGSIZE, ECONNREFUSED, a bad address, …) concerns
        // this datagram and goes to errorReceived; the endpoint stays open.
        if (typeof (err as { code?: unknown }).code === 'string') return this.#errorReceived(err as Error);
        return this.#fatalError(err, 'Fatal write error on datagram transport');
      }
      this.#loop.addWriter(this.#fd, this.#writeReady);
    }
    // The datagram must go out whole and later: keep a copy, the caller may reuse its buffer.
    this.#queue.push({ data: Buffer.from(data), host, port });
    this.#queued += data.length;
  }

  #onWritable(): void {
    while (this.#queue.length > 0) {
      const { data, host, port } = this.#queue[0]!;
      try {
        if (binding.sendto(this.#fd, data, 0, data.length, host, port) < 0) return;
      } catch (err) {
        this.#errorReceived(err as Error);
      }
      this.#queue.shift();
      this.#queued -= data.length;
    }
    this.#loop.removeWriter(this.#fd);
    if (this.#closing) this.#lose(null);
  }

  getWriteBufferSize(): number {
    return this.#queued;
  }

  isClosing(): boolean {
    return this.#closing;
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#loop.removeReader(this.#fd);
    if (this.#queued === 0) this.#lose(null);
  }

  abort(): void {
    this.#forceClose(null);
  }

  #fatalError(err: unknown, message: string): void {
    this.#loop.callExceptionHandler({ message, exception: err, transport: this, protocol: this.#protocol });
    this.#forceClose(err as Error);
  }

  #forceClose(err: Error | null): void {
    if (this.#lost) return;
    if (this.#queued > 0) {
      this.#queue = [];
      this.#queued = 0;
      this.#loop.removeWriter(this.#fd);
    }
    if (!this.#closing) {
      this.#closing = true;
      this.#loop.removeReader(this.#fd);
    }
    this.#lose(err);
  }

  #lose(err: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#loop.callSoon(() => {
      try {
        this.#protocol.connectionLost?.(err);
      } finally {
        const fd = this.#fd;
        this.#fd = -1;
        releaseFd(this.#loop, fd, this);
      }
    });
  }

  /** @internal The loop is closing with this endpoint still open: release the fd, silently. */
  _closeForLoop(): void {
    if (this.#fd < 0) return;
    this.#closing = true;
    this.#lost = true;
    this.#queue = [];
    this.#queued = 0;
    binding.close(this.#fd);
    this.#fd = -1;
  }

  getExtraInfo(name: string, fallback?: unknown): unknown {
    if (this.#fd < 0) return fallback;
    try {
      if (name === 'sockname') return binding.getsockname(this.#fd);
      if (name === 'peername') return this.#connected ? binding.getpeername(this.#fd) : fallback;
    } catch {
      return fallback;
    }
    if (name === 'fd') return this.#fd;
    if (name === 'family') return this.#family;
    return fallback;
  }

  getProtocol(): DatagramProtocolLike {
    return this.#protocol;
  }

  setProtocol(protocol: DatagramProtocolLike): void {
    this.#protocol = protocol;
  }
}

/**
 * `loop.createDatagramEndpoint(protocolFactory, { localAddr?, remoteAddr? })`: a UDP socket
 * bound to `localAddr` (default: an ephemeral port on the wildcard of the remote's family),
 * connected to `remoteAddr` when given. Resolves once `connectionMade` has run.
 */
export function createDatagramEndpoint<P extends DatagramProtocolLike>(
  loop: IoLoop,
  protocolFactory: () => P,
  opts: DatagramOptions = {},
): FutureLike<[UdpTransport, P]> {
  validateFunction(protocolFactory, 'protocolFactory');
  validateObject(opts, 'options');
  if (opts.sock !== undefined) return endpointOnSock(loop, protocolFactory, opts);
  const local = opts.localAddr === undefined ? null : normalizeAddress(opts.localAddr, 'options.localAddr');
  const remote = opts.remoteAddr === undefined ? null : normalizeAddress(opts.remoteAddr, 'options.remoteAddr');
  const family = validateFamily(opts.family);
  const result = loop.createFuture<[UdpTransport, P]>();

  const resolve = (host: string | undefined, cb: (addr: ResolvedAddress | null) => void): void => {
    if (host === undefined) return cb(null);
    lookupAll(host, family, (err, addrs) => {
      if (result.done()) return;
      if (err) return result.setException(err);
      cb(addrs[0]!);
    });
  };

  resolve(local?.host, (localResolved) => {
    resolve(remote?.host, (remoteResolved) => {
      const fam: 4 | 6 = localResolved?.family ?? remoteResolved?.family ?? (family === 6 ? 6 : 4);
      if (localResolved !== null && remoteResolved !== null && localResolved.family !== remoteResolved.family) {
        return result.setException(codedError(Error, 'EAFNOSUPPORT', 'localAddr and remoteAddr are of different address families'));
      }
      let fd = -1;
      let protocol: P;
      try {
        fd = binding.socket(domainOf(fam), 'dgram');
        if (opts.reuseAddress) binding.setsockopt(fd, 'SO_REUSEADDR', 1);
        if (opts.reusePort) binding.setsockopt(fd, 'SO_REUSEPORT', 1);
        if (opts.allowBroadcast) binding.setsockopt(fd, 'SO_BROADCAST', 1);
        if (localResolved !== null) {
          try {
            binding.bind(fd, localResolved.address, local!.port);
          } catch (err) {
            throw errorWithAddress(err, localResolved.address, local!.port);
          }
        }
        if (remoteResolved !== null) {
          try {
            binding.connect(fd, remoteResolved.address, remote!.port);
          } catch (err) {
            throw errorWithAddress(err, remoteResolved.address, remote!.port);
          }
        }
        protocol = protocolFactory();
      } catch (err) {
        if (fd >= 0) binding.close(fd);
        return result.setException(err);
      }
      startEndpoint(loop, fd, protocol, remoteResolved !== null, fam, result);
    });
  });
  return result;
}

function startEndpoint<P extends DatagramProtocolLike>(loop: IoLoop, fd: number, protocol: P, connected: boolean, family: 4 | 6, result: FutureLike<[UdpTransport, P]>): void {
  const waiter = loop.createFuture<void>();
  const transport = new UdpTransport(loop, fd, protocol, connected, family, waiter);
  waiter.addDoneCallback((() => {
    if (result.done()) return transport.abort();
    const err = waiter.cancelled() ? codedError(Error, 'ECONNABORTED', 'endpoint aborted') : waiter.exception();
    if (err) result.setException(err);
    else result.setResult([transport, protocol]);
  }) as never);
}

/** asyncio's `sock=`: a datagram Socket of the caller's (bound or connected, or neither) becomes the endpoint. */
function endpointOnSock<P extends DatagramProtocolLike>(loop: IoLoop, protocolFactory: () => P, opts: DatagramOptions): FutureLike<[UdpTransport, P]> {
  const sock = validateSocket(opts.sock, 'options.sock');
  sock._checkOpen();
  if (sock.type !== 'dgram' || sock.family === 'unix') throw invalidArgValue('options.sock', sock, "must be an 'IPv4' or 'IPv6' 'dgram' socket");
  for (const key of ['localAddr', 'remoteAddr', 'family', 'reuseAddress', 'reusePort', 'allowBroadcast'] as const) {
    if (opts[key] !== undefined) throw invalidArgValue('options.sock', sock, `cannot be combined with ${key}`);
  }
  const result = loop.createFuture<[UdpTransport, P]>();
  let protocol: P;
  try {
    protocol = protocolFactory(); // a failure leaves the socket with the caller
  } catch (err) {
    result.setException(err);
    return result;
  }
  let connected = true;
  try {
    sock.remoteAddress();
  } catch {
    connected = false;
  }
  const family = sock.family === 'IPv6' ? 6 : 4;
  startEndpoint(loop, sock._detach(), protocol, connected, family, result);
  return result;
}

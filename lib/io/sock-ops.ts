// asyncio's loop.sock_* operations on evloop's own Sockets, installed on EventLoop.prototype.
//
// Each operation tries its syscall at once and only on would-block (-1 from the addon) waits
// for readiness with one reader or writer handle, removed as soon as the operation is done,
// failed or cancelled (and only when the slot still holds that handle: a later operation may
// have put its own there). A socket has at most one pending read-side operation (recv,
// recvInto, recvfrom, accept) and one write-side operation (sendall, sendto, connect); a
// second one throws ERR_SOCKET_BUSY, as asyncio does since 3.12 (two readers of one byte
// stream would each get an unpredictable share of it).
import { Buffer } from 'node:buffer';
import { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import type { Handle } from '../core/handles';
import { EventLoopError } from '../util/errors';
import { binding, type SocketAddress } from '../native/binding';
import { errorWithAddress, literalAddress, lookupAll, normalizeAddress } from './address';
import { Socket, validatePath, validateSocket } from './socket';
import { validateBytes } from './transports';
import { codedError, validateInteger } from '../util/validate';

type Side = 'read' | 'write';
const AGAIN: unique symbol = Symbol('AGAIN');
type Attempt<T> = () => T | typeof AGAIN;

declare module '../core/loop' {
  interface EventLoop {
    /** Up to `n` bytes from `sock`; an empty Buffer at EOF. */
    sockRecv(sock: Socket, n: number): Future<Buffer>;
    /** Reads into `buf`; resolves to the byte count (0 at EOF). */
    sockRecvInto(sock: Socket, buf: Uint8Array): Future<number>;
    /** Sends all of `data` (keep it unchanged until the Future is done: it is not copied). */
    sockSendall(sock: Socket, data: Uint8Array): Future<void>;
    /** Connects to `addr` (`{ address, port }`, `[host, port]`, or a path for a Unix socket). */
    sockConnect(sock: Socket, addr: unknown): Future<void>;
    /** Accepts one connection from a listening socket: `[socket, peer address]`. */
    sockAccept(sock: Socket): Future<[Socket, SocketAddress]>;
    /** One datagram of at most `n` bytes and its sender. */
    sockRecvfrom(sock: Socket, n: number): Future<[Buffer, SocketAddress]>;
    /** Sends one datagram to `addr`; resolves to the byte count. */
    sockSendto(sock: Socket, data: Uint8Array, addr: unknown): Future<number>;
  }
}

function busyError(side: Side): Error & { code: string } {
  return codedError(
    Error,
    'ERR_SOCKET_BUSY',
    side === 'read'
      ? 'Another read-side operation (sockRecv, sockRecvInto, sockRecvfrom or sockAccept) is already waiting on this socket'
      : 'Another write-side operation (sockSendall, sockSendto or sockConnect) is already waiting on this socket',
  );
}

/** Checks the loop and socket, claims the socket's read or write side for a new Future. */
function begin<T>(loop: EventLoop, sock: Socket, side: Side): [number, Future<T>] {
  if (loop.isClosed()) throw new EventLoopError('Event loop is closed', 'ERR_LOOP_CLOSED');
  const fd = sock._checkOpen();
  const pending = side === 'read' ? sock._reading : sock._writing;
  if (pending !== null && !pending.done()) throw busyError(side);
  sock._attach(loop);
  const fut = loop.createFuture<T>();
  if (side === 'read') sock._reading = fut;
  else sock._writing = fut;
  fut._addCallbackInternal(() => {
    if (side === 'read') {
      if (sock._reading === fut) sock._reading = null;
    } else if (sock._writing === fut) sock._writing = null;
  });
  return [fd, fut];
}

/**
 * Runs `first` now; while it would block, waits for readiness on `side` and runs `retry`.
 * Errors reject the Future. The handle is dropped the moment the Future is settled here, or,
 * when it is cancelled (or failed by sock.close()), by its done callback.
 */
function drive<T>(loop: EventLoop, sock: Socket, fd: number, fut: Future<T>, side: Side, first: Attempt<T>, retry: Attempt<T> = first): void {
  if (fut.done()) return;
  let r: T | typeof AGAIN;
  try {
    r = first();
  } catch (err) {
    fut.setException(err);
    return;
  }
  if (r !== AGAIN) {
    fut.setResult(r);
    return;
  }
  const drop = (): void => {
    if (side === 'read') {
      if (sock._readHandle === handle) sock._readHandle = null;
    } else if (sock._writeHandle === handle) sock._writeHandle = null;
    if ((side === 'read' ? loop._readers : loop._writers)[fd] !== handle) return;
    if (side === 'read') loop.removeReader(fd);
    else loop.removeWriter(fd);
  };
  const onReady = (): void => {
    // Cancelled, or closed, since this pass was scheduled: the bytes stay in the kernel for
    // whoever reads next.
    if (fut.done()) return drop();
    let v: T | typeof AGAIN;
    try {
      v = retry();
    } catch (err) {
      drop();
      fut.setException(err);
      return;
    }
    if (v === AGAIN) return; // spurious wake-up: level-triggered polling reports it again
    drop();
    fut.setResult(v);
  };
  let handle: Handle;
  try {
    handle = side === 'read' ? loop.addReader(fd, onReady) : loop.addWriter(fd, onReady);
  } catch (err) {
    // The poller refused the fd (select's FD_SETSIZE): the operation fails, the side is free.
    fut.setException(err);
    return;
  }
  if (side === 'read') sock._readHandle = handle;
  else sock._writeHandle = handle;
  fut._addCallbackInternal(drop);
}

const familyOf = (sock: Socket): 4 | 6 => (sock.family === 'IPv6' ? 6 : 4);

/** Resolves `addr` for `sock` (literal IPs at once, names through getaddrinfo), then `then(host, port)`. */
function withAddress(sock: Socket, fut: Future<unknown>, addr: unknown, then: (host: string, port: number) => void): void {
  const { host, port } = normalizeAddress(addr, 'addr');
  if (literalAddress(host) !== null) return then(host, port);
  lookupAll(host, familyOf(sock), (err, addrs) => {
    if (fut.done()) return; // cancelled while resolving
    if (err) return fut.setException(err);
    then(addrs[0]!.address, port);
  });
}

function trimmed(buf: Buffer, n: number): Buffer {
  // A short read out of a big buffer is copied, so a small result does not pin a large one.
  return n * 2 < buf.length && buf.length > 4096 ? Buffer.from(buf.subarray(0, n)) : buf.subarray(0, n);
}

const MAX_RECV = 0x7fffffff;

function sockRecv(this: EventLoop, sock: Socket, n: number): Future<Buffer> {
  validateSocket(sock);
  validateInteger(n, 'n', 0, MAX_RECV);
  const [fd, fut] = begin<Buffer>(this, sock, 'read');
  if (n === 0) {
    fut.setResult(Buffer.alloc(0));
    return fut;
  }
  const buf = Buffer.allocUnsafe(n);
  drive(this, sock, fd, fut, 'read', () => {
    const got = binding.recv(fd, buf, 0, n);
    return got < 0 ? AGAIN : trimmed(buf, got);
  });
  return fut;
}

function sockRecvInto(this: EventLoop, sock: Socket, buf: Uint8Array): Future<number> {
  validateSocket(sock);
  validateBytes(buf, 'buf');
  const [fd, fut] = begin<number>(this, sock, 'read');
  if (buf.length === 0) {
    fut.setResult(0);
    return fut;
  }
  drive(this, sock, fd, fut, 'read', () => {
    const got = binding.recv(fd, buf, 0, buf.length);
    return got < 0 ? AGAIN : got;
  });
  return fut;
}

function sockSendall(this: EventLoop, sock: Socket, data: Uint8Array): Future<void> {
  validateSocket(sock);
  validateBytes(data);
  const [fd, fut] = begin<void>(this, sock, 'write');
  let offset = 0;
  drive(this, sock, fd, fut, 'write', () => {
    while (offset < data.length) {
      const sent = binding.send(fd, data, offset, data.length - offset);
      if (sent < 0) return AGAIN;
      offset += sent;
    }
    return undefined;
  });
  return fut;
}

function sockConnect(this: EventLoop, sock: Socket, addr: unknown): Future<void> {
  validateSocket(sock);
  const path = sock.family === 'unix' ? validatePath(addr, 'addr') : null;
  if (path === null) normalizeAddress(addr, 'addr'); // bad input throws before the socket is claimed
  const [fd, fut] = begin<void>(this, sock, 'write');
  // A failure names the address it was about, as Node's connect errors do.
  const connect = (start: () => number, address: string, port?: number): void => {
    const named = <R>(step: () => R): (() => R) => (): R => {
      try {
        return step();
      } catch (err) {
        throw errorWithAddress(err, address, port);
      }
    };
    drive(
      this,
      sock,
      fd,
      fut,
      'write',
      named(() => (start() === 1 ? undefined : AGAIN)),
      // Writable means the attempt ended; SO_ERROR says how.
      named(() => binding.finishConnect(fd)),
    );
  };
  if (path !== null) connect(() => binding.connectUnix(fd, path), path);
  else withAddress(sock, fut, addr, (host, port) => connect(() => binding.connect(fd, host, port), host, port));
  return fut;
}

function sockAccept(this: EventLoop, sock: Socket): Future<[Socket, SocketAddress]> {
  validateSocket(sock);
  const [fd, fut] = begin<[Socket, SocketAddress]>(this, sock, 'read');
  drive(this, sock, fd, fut, 'read', () => {
    for (;;) {
      const conn = binding.accept(fd);
      if (conn < 0) return AGAIN;
      let peer: SocketAddress;
      try {
        peer = binding.getpeername(conn);
      } catch {
        // Reset before we got to it: nobody can use it, take the next one.
        binding.close(conn);
        continue;
      }
      return [new Socket(conn, sock.family, sock.type, this), peer];
    }
  });
  return fut;
}

function sockRecvfrom(this: EventLoop, sock: Socket, n: number): Future<[Buffer, SocketAddress]> {
  validateSocket(sock);
  validateInteger(n, 'n', 1, MAX_RECV);
  const [fd, fut] = begin<[Buffer, SocketAddress]>(this, sock, 'read');
  const buf = Buffer.allocUnsafe(n);
  drive(this, sock, fd, fut, 'read', () => {
    const r = binding.recvfrom(fd, buf, 0, n);
    if (r === -1) return AGAIN;
    return [trimmed(buf, r.bytes), { address: r.address, family: r.family, port: r.port }];
  });
  return fut;
}

function sockSendto(this: EventLoop, sock: Socket, data: Uint8Array, addr: unknown): Future<number> {
  validateSocket(sock);
  validateBytes(data);
  normalizeAddress(addr, 'addr');
  const [fd, fut] = begin<number>(this, sock, 'write');
  withAddress(sock, fut, addr, (host, port) =>
    drive(this, sock, fd, fut, 'write', () => {
      const sent = binding.sendto(fd, data, 0, data.length, host, port);
      return sent < 0 ? AGAIN : sent;
    }),
  );
  return fut;
}

Object.assign(EventLoop.prototype, { sockRecv, sockRecvInto, sockSendall, sockConnect, sockAccept, sockRecvfrom, sockSendto });

// A socket owned by evloop, for asyncio's low-level `loop.sock_*` operations (sock-ops.ts).
// The fd comes from the addon, so it is non-blocking and close-on-exec from birth, and no call
// here can touch an fd the addon did not create (a stale number fails with EBADF).
import { binding, type SockOptName, type SocketAddress } from '../native/binding';
import { runningLoopOrNull } from '../core/running';
import { errorWithAddress, normalizeAddress } from './address';
import type { FutureLike, IoLoop } from './transport-types';
import type { Handle } from '../core/handles';
import { codedError, invalidArgType, invalidArgValue, validateInteger, validateObject } from '../util/validate';

export type SocketFamily = 'IPv4' | 'IPv6' | 'unix';
export type SocketType = 'stream' | 'dgram';
export type ShutdownHow = 'read' | 'write' | 'both' | 0 | 1 | 2;
export type SocketOptionName = Exclude<SockOptName, never>;
/** Where a socket binds or connects: `{ address, port }` or `[host, port]`; a path for Unix sockets. */
export type SocketAddressInput = { address: string; port: number; family?: string } | readonly [string, number] | string;

export interface SocketOptions {
  family?: SocketFamily;
  type?: SocketType;
}

const FAMILIES: Record<SocketFamily, 'inet' | 'inet6' | 'unix'> = { IPv4: 'inet', IPv6: 'inet6', unix: 'unix' };
const SHUTDOWN: Record<string, 0 | 1 | 2> = { read: 0, write: 1, both: 2 };

export function socketClosedError(): Error & { code: string } {
  return codedError(Error, 'ERR_SOCKET_CLOSED', 'Socket is closed');
}

export class Socket {
  #fd: number;
  readonly family: SocketFamily;
  readonly type: SocketType;
  /** @internal The loop that closes this socket if it is still open when the loop closes. */
  _loop: IoLoop | null = null;
  /** @internal The pending read-side operation (recv, recvInto, recvfrom, accept), if any. */
  _reading: FutureLike<unknown> | null = null;
  /** @internal The pending write-side operation (sendall, sendto, connect), if any. */
  _writing: FutureLike<unknown> | null = null;
  /**
   * @internal The reader / writer handles sock-ops registered on `_loop` for this fd. A
   * cancelled operation's handle lingers until its done callback runs a pass later; whatever
   * gives the fd up (close, a transport taking it) removes them first, so the loop never keeps
   * a slot or poller interest for an fd number the kernel may hand out again.
   */
  _readHandle: Handle | null = null;
  _writeHandle: Handle | null = null;
  #state: 'open' | 'closed' | 'detached' = 'open';

  /** @internal Use `socket()`; accepted connections come from `loop.sockAccept`. */
  constructor(fd: number, family: SocketFamily, type: SocketType, loop: IoLoop | null) {
    this.#fd = fd;
    this.family = family;
    this.type = type;
    if (loop !== null) this._attach(loop);
  }

  /** The file descriptor; -1 once closed, or once a transport has taken the socket over. */
  get fd(): number {
    return this.#fd;
  }

  isClosed(): boolean {
    return this.#state !== 'open';
  }

  /** @internal The fd, or the coded error of a closed socket. */
  _checkOpen(): number {
    if (this.#state !== 'open') throw socketClosedError();
    return this.#fd;
  }

  /**
   * @internal Ties the socket to the loop that uses it, so that closing that loop closes it
   * (as it closes transports). The last loop to use it owns it.
   */
  _attach(loop: IoLoop): void {
    if (this._loop === loop) return;
    this._loop?._untrackResource(this);
    this._loop = loop;
    if (!loop.isClosed()) loop._trackResource(this);
  }

  /**
   * @internal A transport takes the fd over (asyncio's `sock=`): this object lets go of it
   * without closing it, and every later call sees a closed socket.
   */
  _detach(): number {
    const fd = this._checkOpen();
    if (this._pending()) {
      throw codedError(Error, 'ERR_SOCKET_BUSY', 'A socket with a pending sock* operation cannot be handed to a transport');
    }
    this.#state = 'detached';
    this.#fd = -1;
    this._dropHandles(fd);
    this._loop?._untrackResource(this);
    this._loop = null;
    return fd;
  }

  /** @internal */
  _pending(): boolean {
    return (this._reading !== null && !this._reading.done()) || (this._writing !== null && !this._writing.done());
  }

  bind(addr: SocketAddressInput): void {
    const fd = this._checkOpen();
    if (this.family === 'unix') {
      const path = validatePath(addr, 'addr');
      try {
        binding.bindUnix(fd, path);
      } catch (err) {
        throw errorWithAddress(err, path);
      }
    } else {
      const { host, port } = normalizeAddress(addr, 'addr');
      try {
        binding.bind(fd, host, port);
      } catch (err) {
        throw errorWithAddress(err, host, port);
      }
    }
  }

  listen(backlog = 128): void {
    const fd = this._checkOpen();
    const n = validateInteger(backlog, 'backlog', 0, 65535);
    try {
      binding.listen(fd, n);
    } catch (err) {
      // The address it was bound to (or the kernel's pick), as Node names a failed listen.
      let where: SocketAddress | undefined;
      try {
        where = binding.getsockname(fd);
      } catch {
        throw err;
      }
      throw where.family === 'unix' ? errorWithAddress(err, where.address) : errorWithAddress(err, where.address, where.port);
    }
  }

  setOption(name: SocketOptionName, value: number | boolean): void {
    const fd = this._checkOpen();
    if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name);
    if (typeof value !== 'number' && typeof value !== 'boolean') throw invalidArgType('value', 'of type number or boolean', value);
    binding.setsockopt(fd, name, value);
  }

  getOption(name: SocketOptionName): number {
    const fd = this._checkOpen();
    if (typeof name !== 'string') throw invalidArgType('name', 'of type string', name);
    return binding.getsockopt(fd, name);
  }

  /** The local address, as Node's `net` gives it (`{ address: path, family: 'unix', port: 0 }` for Unix). */
  address(): SocketAddress {
    return binding.getsockname(this._checkOpen());
  }

  /** The peer's address; throws `ENOTCONN` when not connected. */
  remoteAddress(): SocketAddress {
    return binding.getpeername(this._checkOpen());
  }

  /** `'read'`, `'write'`, `'both'` (or 0, 1, 2 as in `socket.SHUT_*`). */
  shutdown(how: ShutdownHow): void {
    const fd = this._checkOpen();
    const value = typeof how === 'string' ? SHUTDOWN[how] : how;
    if (value !== 0 && value !== 1 && value !== 2) throw invalidArgValue('how', how, "must be 'read', 'write', 'both', 0, 1 or 2");
    binding.shutdown(fd, value);
  }

  /**
   * Closes the fd (idempotent). A sock* operation still waiting on it fails with
   * `ERR_SOCKET_CLOSED`, and its reader or writer leaves the loop first, so no stale handle is
   * ever polled on a number the kernel may hand out again.
   */
  close(): void {
    if (this.#state !== 'open') return;
    const fd = this.#fd;
    const loop = this._loop;
    this.#state = 'closed';
    this.#fd = -1;
    if (loop !== null && !loop.isClosed()) {
      this._dropHandles(fd);
      if (this._reading !== null && !this._reading.done()) this._reading.setException(socketClosedError());
      if (this._writing !== null && !this._writing.done()) this._writing.setException(socketClosedError());
      loop._untrackResource(this);
    }
    this._loop = null;
    binding.close(fd);
  }

  /** `using sock = socket()` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal Takes this socket's reader and writer off its loop (when still theirs). */
  _dropHandles(fd: number): void {
    const loop = this._loop;
    if (loop !== null && !loop.isClosed()) {
      if (this._readHandle !== null && loop._readers[fd] === this._readHandle) loop.removeReader(fd);
      if (this._writeHandle !== null && loop._writers[fd] === this._writeHandle) loop.removeWriter(fd);
    }
    this._readHandle = null;
    this._writeHandle = null;
  }

  /** @internal The owning loop is closing: release the fd (the loop has dropped its handles). */
  _closeForLoop(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    const fd = this.#fd;
    this.#fd = -1;
    this._loop = null;
    binding.close(fd);
  }

  toString(): string {
    return `<Socket fd=${this.#fd} family=${this.family} type=${this.type}${this.#state === 'open' ? '' : ` ${this.#state}`}>`;
  }
}

/** The options of a connection function given `{ sock }` (asyncio's `sock=`) in place of an address. */
export interface SockOption {
  sock?: Socket;
}

function isPlainOptions(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/**
 * Sorts out a connection function's arguments when a socket replaces the address: either
 * `fn(factory, { sock, ...opts })` or `fn(factory, null, undefined, { sock, ...opts })`.
 * Returns null when no `sock` is given (the address form). Checks the socket (open, a stream,
 * a Unix one for the Unix twins) without taking it yet.
 */
export function sockArgs<O extends object>(where: { unix: boolean }, address: unknown, port: unknown, opts: O | undefined): [Socket, O] | null {
  let options: unknown = opts;
  if (isPlainOptions(address) && 'sock' in address) {
    if (port !== undefined || (opts !== undefined && Object.keys(opts).length !== 0)) throw invalidArgValue('options', address, 'must be the last argument');
    options = address;
    address = undefined;
  }
  if (!isPlainOptions(options) || options.sock === undefined) return null;
  if (address !== undefined && address !== null) throw invalidArgValue('options.sock', options.sock, 'cannot be combined with an address');
  const sock = validateSocket(options.sock, 'options.sock');
  sock._checkOpen();
  if (sock.type !== 'stream') throw invalidArgValue('options.sock', sock, "must be a 'stream' socket");
  if (where.unix && sock.family !== 'unix') throw invalidArgValue('options.sock', sock, "must be a 'unix' socket");
  const { sock: _taken, ...rest } = options;
  return [sock, rest as O];
}

export function validatePath(path: unknown, name: string): string {
  if (typeof path !== 'string' || path.length === 0) throw invalidArgType(name, 'a non-empty string (a Unix socket path)', path);
  return path;
}

export function validateSocket(sock: unknown, name = 'sock'): Socket {
  if (!(sock instanceof Socket)) throw invalidArgType(name, 'an instance of Socket', sock);
  return sock;
}

/**
 * A new non-blocking, close-on-exec socket (`{ family: 'IPv4', type: 'stream' }` by default).
 * Made while a loop runs, it belongs to that loop: closing the loop closes it.
 */
export function socket(options: SocketOptions = {}): Socket {
  validateObject(options, 'options');
  const family = (options.family ?? 'IPv4') as SocketFamily;
  const type = (options.type ?? 'stream') as SocketType;
  if (typeof family !== 'string' || !Object.prototype.hasOwnProperty.call(FAMILIES, family)) throw invalidArgValue('options.family', family, "must be 'IPv4', 'IPv6' or 'unix'");
  if (type !== 'stream' && type !== 'dgram') throw invalidArgValue('options.type', type, "must be 'stream' or 'dgram'");
  const fd = binding.socket(FAMILIES[family], type);
  return new Socket(fd, family, type, runningLoopOrNull() as IoLoop | null);
}

// The native addon, typed. The contract it implements is native/README.md.
import * as path from 'path';

/** Every poller backend evloop has, in the order 'auto' prefers them (the platform has a subset). */
export const BACKEND_NAMES = ['epoll', 'kqueue', 'poll', 'select'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
/** What a `backend` option may say: a backend, or 'auto' for the platform's best. */
export const BACKEND_OPTIONS = ['auto', ...BACKEND_NAMES] as const;
export type BackendOption = (typeof BACKEND_OPTIONS)[number];

// Readiness bits, as native/poller.h defines them (binding.constants has the same values; a test
// checks): constants so the hot path compares with literals rather than property loads.
export const EVENT_READ = 1;
export const EVENT_WRITE = 2;
export const EVENT_ERROR = 4;
export const EVENT_HUP = 8;
/** Interest only: with EVENT_READ, the poller reads the fd into its read slab during the batch. */
export const EVENT_AUTO_READ = 16;
/** `.reads` lengths that are not byte counts: the entry was not read / the read would block. */
export const READ_NOT_DONE = -2147483648;
export const READ_WOULD_BLOCK = -2147483647;

// The read slab shared by every stream read (the poller's auto-reads and the transports' own):
// reads never overlap and the slab only moves forward, so a view handed out is never written
// again. A read takes at most MAX_READ and is not tried with less than MIN_READ left: bulk reads
// stay big.
export const SLAB_SIZE = 512 * 1024;
export const MAX_READ = 256 * 1024;
export const MIN_READ = 64 * 1024;
// The poller's reads during a batch go on down to MIN_BATCH_READ left: the loop takes a new slab
// after any batch that left less than MIN_READ, so only a batch that began near that point gets
// here, and a socket it left unread would be read by its transport instead (a handle, a native
// call and a view of its own: ~1,300 instructions more a read). With 64 connections each
// pipelining 16 messages (~1 KiB reads, 20-60 KiB a batch) that was ~5% of reads. A bulk socket
// read short here is read again in the next batch, from the new slab.
export const MIN_BATCH_READ = 4 * 1024;

// Batched sends (loop._queueSend): a write of at most SEND_BATCH_MAX bytes made during a pass is
// copied into the loop's send buffer and sent, with every other such write of the pass, by one
// sendBatch call when the pass ends. Above that size the copy costs more than the crossing saves.
export const SEND_BATCH_MAX = 4 * 1024;
export const SEND_BUFFER_SIZE = 64 * 1024;
export const SEND_BATCH_ENTRIES = 1024;

export interface SocketAddress {
  address: string;
  family: 'IPv4' | 'IPv6' | 'unix';
  port: number;
}

export interface RecvFromResult extends SocketAddress {
  bytes: number;
}

export interface NativePoller {
  readonly backend: BackendName;
  /** After a wait / in the start callback: `n` pairs `[fd, events]`. Same object for the poller's life. */
  readonly events: Int32Array;
  readonly capacity: number;
  readonly size: number;
  /**
   * Per batch entry i: reads[2i] the slab offset and reads[2i+1] the length the poller read for
   * an auto-read fd (0 at EOF, READ_WOULD_BLOCK, -errno), or READ_NOT_DONE. The last slot
   * (reads[2 * capacity]) is the slab cursor. Same object for the poller's life.
   */
  readonly reads: Int32Array;
  /** Where auto-reads go from now on, from offset 0 (null: nowhere, every entry READ_NOT_DONE). */
  setReadSlab(slab: Uint8Array | null, minRead?: number, maxRead?: number): void;
  add(fd: number, events: number): void;
  modify(fd: number, events: number): void;
  remove(fd: number): void;
  wait(timeoutMs?: number): number;
  start(onReady: (n: number) => void): void;
  stop(): void;
  close(): void;
}

export type SockOptName =
  | 'TCP_NODELAY'
  | 'SO_REUSEADDR'
  | 'SO_REUSEPORT'
  | 'SO_KEEPALIVE'
  | 'SO_RCVBUF'
  | 'SO_SNDBUF'
  | 'SO_BROADCAST'
  | 'IPV6_V6ONLY'
  | 'SO_LINGER'
  | 'SO_ERROR'
  | 'SO_TYPE';

export interface Binding {
  Poller: new (backend: BackendName) => NativePoller;
  backends: BackendName[];
  constants: { READ: number; WRITE: number; ERROR: number; HUP: number; AUTO_READ: number; READ_NOT_DONE: number; READ_WOULD_BLOCK: number };
  socket(domain: 'inet' | 'inet6' | 'unix', type: 'stream' | 'dgram'): number;
  socketpair(type: 'stream' | 'dgram'): [number, number];
  bind(fd: number, host: string, port: number): void;
  bindUnix(fd: number, path: string): void;
  listen(fd: number, backlog: number): void;
  accept(fd: number): number;
  connect(fd: number, host: string, port: number): number;
  connectUnix(fd: number, path: string): number;
  finishConnect(fd: number): void;
  recv(fd: number, buf: Uint8Array, offset: number, length: number): number;
  send(fd: number, buf: Uint8Array, offset: number, length: number): number;
  writev(fd: number, buffers: Uint8Array[]): number;
  /** `buf` / `ops` may be the ArrayBuffers under the views (cheaper to read natively). */
  sendBatch(buf: Uint8Array | ArrayBuffer, ops: Int32Array | ArrayBuffer, count: number): number;
  sendto(fd: number, buf: Uint8Array, offset: number, length: number, host?: string, port?: number): number;
  recvfrom(fd: number, buf: Uint8Array, offset: number, length: number): RecvFromResult | -1;
  shutdown(fd: number, how: 0 | 1 | 2): void;
  close(fd: number): void;
  setsockopt(fd: number, name: SockOptName, value: number | boolean): void;
  getsockopt(fd: number, name: SockOptName): number;
  getsockname(fd: number): SocketAddress;
  getpeername(fd: number): SocketAddress;
  errname(errno: number): string;
  /** The Error a failing `syscall` would have thrown for `errno` (either sign). */
  errnoError(errno: number, syscall: string): Error & { code: string; errno: number; syscall: string };
  /** Pipes and child processes (native/process.cc). */
  pipe(): [number, number];
  ownPipe(fd: number): number;
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  /** stdio codes: -1 pipe, -2 inherit, -3 /dev/null, -4 (stderr) as stdout, n >= 0 that fd. */
  spawn(file: string, args: string[], env: string[] | null, cwd: string | null, stdio: [number, number, number]): [pid: number, pidfd: number, stdin: number, stdout: number, stderr: number];
  waitChild(pid: number): number | null;
  killChild(pid: number, signal: number): void;
  releaseChild(pid: number): void;
  /**
   * V8's continuation-preserved embedder data of the current context (native/context_data.cc),
   * or null when the running node does not export it. Each call makes a new get/set pair.
   */
  contextData(): { get(): unknown; set(value: unknown): void } | null;
}

// node-gyp-build looks in prebuilds/<platform>-<arch>/ first, then build/Release: a user's
// `npm install` needs no compiler when a prebuilt binary ships.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export const binding: Binding = require('node-gyp-build')(path.join(__dirname, '..', '..'));

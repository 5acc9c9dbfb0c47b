// The transport surface protocols and streams program against (asyncio's transports.py).
import type { SocketAddress } from './binding';

export interface WriteBufferLimits {
  high?: number;
  low?: number;
}

export interface Transport {
  write(data: Uint8Array): void;
  writelines(list: Iterable<Uint8Array>): void;
  /** Half-closes: the peer sees EOF once the buffered bytes are out. */
  writeEof(): void;
  canWriteEof(): boolean;
  /** Flushes what is buffered, then closes; `connectionLost(null)` follows. */
  close(): void;
  /** Closes now, dropping what is buffered. */
  abort(): void;
  isClosing(): boolean;
  pauseReading(): void;
  resumeReading(): void;
  isReading(): boolean;
  setWriteBufferLimits(limits?: WriteBufferLimits): void;
  getWriteBufferLimits(): [low: number, high: number];
  getWriteBufferSize(): number;
  getExtraInfo(name: 'peername' | 'sockname'): SocketAddress | undefined;
  getExtraInfo(name: 'fd'): number;
  getExtraInfo(name: string, fallback?: unknown): unknown;
  getProtocol(): unknown;
  setProtocol(protocol: unknown): void;
}

export interface DatagramTransport {
  sendto(data: Uint8Array, addr?: SocketAddress | { address: string; port: number } | [string, number]): void;
  close(): void;
  abort(): void;
  isClosing(): boolean;
  getWriteBufferSize(): number;
  getExtraInfo(name: string, fallback?: unknown): unknown;
  getProtocol(): unknown;
  setProtocol(protocol: unknown): void;
}

/** What the transports need from a loop; EventLoop (lib/loop.ts) provides it. */
export interface FutureLike<T> {
  setResult(value: T): void;
  setException(err: unknown): void;
  done(): boolean;
  cancelled(): boolean;
  result(): T;
  exception(): unknown;
  removeDoneCallback(cb: (fut: never) => void): number;
  addDoneCallback(cb: (fut: never) => void): void;
}

export interface IoLoop {
  createFuture<T>(): FutureLike<T> & PromiseLike<T>;
  time(): number;
  addReader(fd: number, callback: (...args: never[]) => void, ...args: unknown[]): unknown;
  removeReader(fd: number): boolean;
  addWriter(fd: number, callback: (...args: never[]) => void, ...args: unknown[]): unknown;
  removeWriter(fd: number): boolean;
  callSoon(callback: (...args: never[]) => void, ...args: unknown[]): unknown;
  callLater(delayMs: number, callback: (...args: never[]) => void, ...args: unknown[]): { cancel(): void };
  callExceptionHandler(context: Record<string, unknown>): void;
  getDebug(): boolean;
}

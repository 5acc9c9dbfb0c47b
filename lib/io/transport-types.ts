// The transport surface protocols and streams program against (asyncio's transports.py).
import type { SocketAddress } from '../native/binding';

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

// The loop and future types the transports program against (core, one layer down).
export type { EventLoop as IoLoop } from '../core/loop';
export type { Future as FutureLike } from '../core/future';

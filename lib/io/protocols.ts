// asyncio's protocols: the callbacks a transport drives. Base classes with no-op methods; a plain
// object with the same methods works as well.
import type { SocketAddress } from '../native/binding';

/** The transport a protocol is given in `connectionMade` (see lib/transports.ts). */
export interface BaseTransportLike {
  close(): void;
  isClosing(): boolean;
  getExtraInfo(name: string, fallback?: unknown): unknown;
}

export interface BaseProtocolLike {
  connectionMade?(transport: never): void;
  connectionLost?(err: Error | null): void;
  pauseWriting?(): void;
  resumeWriting?(): void;
}

export interface ProtocolLike extends BaseProtocolLike {
  dataReceived?(data: Buffer): void;
  /** A falsy result closes the transport; a truthy one keeps it half-open for writing. */
  eofReceived?(): boolean | void;
}

export interface BufferedProtocolLike extends BaseProtocolLike {
  /** A buffer to read into; at least one byte long. `sizeHint` is -1 when there is no hint. */
  getBuffer(sizeHint: number): Uint8Array;
  bufferUpdated(nbytes: number): void;
  eofReceived?(): boolean | void;
}

export interface DatagramProtocolLike extends BaseProtocolLike {
  datagramReceived?(data: Buffer, addr: SocketAddress): void;
  errorReceived?(err: Error): void;
}

export class BaseProtocol {
  connectionMade(_transport: unknown): void {}
  connectionLost(_err: Error | null): void {}
  pauseWriting(): void {}
  resumeWriting(): void {}
}

export class Protocol extends BaseProtocol {
  dataReceived(_data: Buffer): void {}
  eofReceived(): boolean | void {
    return undefined;
  }
}

export abstract class BufferedProtocol extends BaseProtocol {
  abstract getBuffer(sizeHint: number): Uint8Array;
  abstract bufferUpdated(nbytes: number): void;
  eofReceived(): boolean | void {
    return undefined;
  }
}

export class DatagramProtocol extends BaseProtocol {
  datagramReceived(_data: Buffer, _addr: SocketAddress): void {}
  errorReceived(_err: Error): void {}
}

export function isBufferedProtocol(protocol: unknown): protocol is BufferedProtocolLike {
  return typeof (protocol as BufferedProtocolLike).getBuffer === 'function';
}

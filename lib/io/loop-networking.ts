// asyncio's selector loop adds networking to the base loop; here the io layer adds it to
// core's EventLoop: these methods are installed on its prototype when the package loads, and
// the module augmentation below gives the public type the same methods. Core never imports io.
import { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { createServer, createUnixServer, type ProtocolFactory, type Server, type ServerOptions, type UnixServerOptions } from './server';
import { createConnection, createUnixConnection, type ConnectionOptions } from './connection';
import { createDatagramEndpoint, type DatagramOptions, type UdpTransport } from './datagram';
import type { SocketTransport, StreamProtocol } from './transports';
import type { Transport } from './transport-types';
import type { DatagramProtocolLike } from './protocols';
import type { Socket } from './socket';
import { startTls, type SslTransport, type TlsOption } from './tls';

declare module '../core/loop' {
  interface EventLoop {
    /** Listens on `host:port`; resolves to the Server. */
    createServer(protocolFactory: ProtocolFactory, host: string | string[] | null | undefined, port: number, options?: ServerOptions): Future<Server>;
    /** asyncio's `sock=`: serves on a bound stream Socket (listen() is called), which the server takes over. */
    createServer(protocolFactory: ProtocolFactory, options: ServerOptions & { sock: Socket }): Future<Server>;
    /** Connects to `host:port`; resolves to `[transport, protocol]` once `connectionMade` has run. */
    createConnection<P extends StreamProtocol>(protocolFactory: () => P, host: string, port: number, options: ConnectionOptions & { tls: TlsOption }): Future<[SslTransport, P]>;
    createConnection<P extends StreamProtocol>(protocolFactory: () => P, host: string, port: number, options?: ConnectionOptions): Future<[SocketTransport, P]>;
    /** asyncio's `sock=`: wraps a connected stream Socket, which the transport takes over. */
    createConnection<P extends StreamProtocol>(protocolFactory: () => P, options: ConnectionOptions & { sock: Socket }): Future<[SocketTransport, P]>;
    /**
     * Upgrades a live connection to TLS (asyncio's start_tls, e.g. after STARTTLS); resolves to
     * the TLS transport once the handshake is done. `transport` must not be used afterwards.
     */
    startTls(transport: Transport, protocol: StreamProtocol, tls: TlsOption, options?: { serverSide?: boolean; serverHostname?: string; handshakeTimeout?: number }): Future<SslTransport>;
    createUnixServer(protocolFactory: ProtocolFactory, path: string, options?: UnixServerOptions): Future<Server>;
    createUnixServer(protocolFactory: ProtocolFactory, options: UnixServerOptions & { sock: Socket }): Future<Server>;
    createUnixConnection<P extends StreamProtocol>(protocolFactory: () => P, path: string): Future<[SocketTransport, P]>;
    createUnixConnection<P extends StreamProtocol>(protocolFactory: () => P, options: { sock: Socket }): Future<[SocketTransport, P]>;
    createDatagramEndpoint<P extends DatagramProtocolLike>(protocolFactory: () => P, options?: DatagramOptions): Future<[UdpTransport, P]>;
  }
}

// The address forms and the `{ sock }` forms share one entry each: the io functions sort the
// arguments out (socket.ts's sockArgs).
type Loose = (...args: any[]) => any;
const proto = EventLoop.prototype as unknown as Record<string, Loose>;
proto.createServer = function (this: EventLoop, protocolFactory: ProtocolFactory, host: never, port: never, options?: ServerOptions) {
  return createServer(this, protocolFactory, host, port, options);
};
proto.createConnection = function <P extends StreamProtocol>(this: EventLoop, protocolFactory: () => P, host: never, port: never, options?: ConnectionOptions) {
  return createConnection(this, protocolFactory, host, port, options);
} as EventLoop['createConnection'];
proto.startTls = function (this: EventLoop, transport, protocol, tlsOption, options) {
  return startTls(this, transport, protocol, tlsOption, options);
};
proto.createUnixServer = function (this: EventLoop, protocolFactory: ProtocolFactory, path: never, options?: UnixServerOptions) {
  return createUnixServer(this, protocolFactory, path, options);
};
proto.createUnixConnection = function <P extends StreamProtocol>(this: EventLoop, protocolFactory: () => P, path: never) {
  return createUnixConnection(this, protocolFactory, path);
};
proto.createDatagramEndpoint = function <P extends DatagramProtocolLike>(this: EventLoop, protocolFactory: () => P, options?: DatagramOptions) {
  return createDatagramEndpoint(this, protocolFactory, options);
};

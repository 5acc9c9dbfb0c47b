// asyncio's selector loop adds networking to the base loop; here the io layer adds it to
// core's EventLoop: these methods are installed on its prototype when the package loads, and
// the module augmentation below gives the public type the same methods. Core never imports io.
import { EventLoop } from '../core/loop';
import type { Future } from '../core/future';
import { createServer, createUnixServer, type ProtocolFactory, type Server, type ServerOptions, type UnixServerOptions } from './server';
import { createConnection, createUnixConnection, type ConnectionOptions } from './connection';
import { createDatagramEndpoint, type DatagramOptions, type UdpTransport } from './datagram';
import type { SocketTransport, StreamProtocol } from './transports';
import type { DatagramProtocolLike } from './protocols';

declare module '../core/loop' {
  interface EventLoop {
    /** Listens on `host:port`; resolves to the Server. */
    createServer(protocolFactory: ProtocolFactory, host: string | string[] | null | undefined, port: number, options?: ServerOptions): Future<Server>;
    /** Connects to `host:port`; resolves to `[transport, protocol]` once `connectionMade` has run. */
    createConnection<P extends StreamProtocol>(protocolFactory: () => P, host: string, port: number, options?: ConnectionOptions): Future<[SocketTransport, P]>;
    createUnixServer(protocolFactory: ProtocolFactory, path: string, options?: UnixServerOptions): Future<Server>;
    createUnixConnection<P extends StreamProtocol>(protocolFactory: () => P, path: string): Future<[SocketTransport, P]>;
    createDatagramEndpoint<P extends DatagramProtocolLike>(protocolFactory: () => P, options?: DatagramOptions): Future<[UdpTransport, P]>;
  }
}

const proto = EventLoop.prototype;
proto.createServer = function (this: EventLoop, protocolFactory, host, port, options) {
  return createServer(this, protocolFactory, host, port, options);
};
proto.createConnection = function <P extends StreamProtocol>(this: EventLoop, protocolFactory: () => P, host: string, port: number, options?: ConnectionOptions) {
  return createConnection(this, protocolFactory, host, port, options);
};
proto.createUnixServer = function (this: EventLoop, protocolFactory, path, options) {
  return createUnixServer(this, protocolFactory, path, options);
};
proto.createUnixConnection = function <P extends StreamProtocol>(this: EventLoop, protocolFactory: () => P, path: string) {
  return createUnixConnection(this, protocolFactory, path);
};
proto.createDatagramEndpoint = function <P extends DatagramProtocolLike>(this: EventLoop, protocolFactory: () => P, options?: DatagramOptions) {
  return createDatagramEndpoint(this, protocolFactory, options);
};

// TLS over evloop's socket transport (asyncio's sslproto.py): the application protocol sees a
// normal Transport; underneath, Node's own TLS engine (OpenSSL through tls.TLSSocket) runs over
// an in-memory duplex, the "wire", whose bytes come from and go to the raw SocketTransport.
// Node's TLSSocket gives us, unchanged, its certificate checks, its error codes and every
// option name of tls.connect / tls.createSecureContext (docs/tls.md says why not the addon).
import { Buffer } from 'node:buffer';
import * as tls from 'tls';
import { isIP, Socket as NetSocket } from 'net';
import { Duplex } from 'stream';
import { TimeoutError } from '../util/errors';
import { codedError, invalidArgType, invalidArgValue, validateMs, validateObject } from '../util/validate';
import { isBufferedProtocol, type BufferedProtocolLike, type ProtocolLike } from './protocols';
import { isConnectionError, resolveWriteBufferLimits, validateBytes, type StreamProtocol } from './transports';
import type { FutureLike, IoLoop, Transport, WriteBufferLimits } from './transport-types';
import type { SocketAddress } from '../native/binding';

/** What `options.tls` takes: Node's secure-context options (plus tls.connect's checks), a SecureContext, or `true` (defaults). */
export type TlsOption = true | tls.SecureContext | (tls.SecureContextOptions & TlsCheckOptions);

/** The tls.connect / tls.TLSSocket options that are not part of a secure context. */
export interface TlsCheckOptions {
  /** Verify the peer's certificate chain (client: always asked; server: with `requestCert`). Default true. */
  rejectUnauthorized?: boolean;
  /** Server: ask the client for a certificate. */
  requestCert?: boolean;
  ALPNProtocols?: string[] | Uint8Array;
  /** Client: replaces Node's `tls.checkServerIdentity`. */
  checkServerIdentity?: (hostname: string, cert: tls.PeerCertificate) => Error | undefined;
  /** Client: a session to resume (from `getExtraInfo('session')`). */
  session?: Buffer;
  /** A SecureContext to use instead of building one from the other options. */
  secureContext?: tls.SecureContext;
}

export interface TlsConnectionOptions {
  tls?: TlsOption | null;
  /** The name the server's certificate must carry (and the SNI sent); default the host. '' turns the name check and SNI off. */
  serverHostname?: string;
  /** Milliseconds the handshake may take before the connection is aborted. Default 60 000 (asyncio's 60 s). */
  handshakeTimeout?: number;
}

export const DEFAULT_HANDSHAKE_TIMEOUT = 60_000;

/** Everything a TLS endpoint needs, resolved once per createConnection / createServer call. */
export interface TlsConfig {
  readonly serverSide: boolean;
  readonly secureContext: tls.SecureContext;
  readonly rejectUnauthorized: boolean;
  readonly requestCert: boolean;
  readonly ALPNProtocols: string[] | Uint8Array | undefined;
  readonly checkServerIdentity: ((hostname: string, cert: tls.PeerCertificate) => Error | undefined) | undefined;
  readonly session: Buffer | undefined;
  /** Client: the name checked against the certificate, null for no check. */
  readonly hostname: string | null;
  /** Client: the SNI name, undefined for none (IP addresses are never sent). */
  readonly servername: string | undefined;
  readonly handshakeTimeout: number;
}

function isSecureContext(value: unknown): value is tls.SecureContext {
  // tls.createSecureContext's result: the native context lives in `.context`.
  return typeof value === 'object' && value !== null && typeof (value as { context?: unknown }).context === 'object' && (value as { context?: unknown }).context !== null;
}

/**
 * Checks and resolves TLS options. `host` is the address connected to (client). Throws the
 * usual TypeError / RangeError for bad input, and Node's own errors for a bad key or cert.
 */
export function resolveTlsConfig(
  tlsOption: unknown,
  opts: { serverSide: boolean; serverHostname?: unknown; handshakeTimeout?: unknown; host?: string | null },
): TlsConfig {
  const handshakeTimeout = opts.handshakeTimeout === undefined ? DEFAULT_HANDSHAKE_TIMEOUT : validateMs(opts.handshakeTimeout, 'options.handshakeTimeout');
  if (handshakeTimeout === 0) throw codedError(RangeError, 'ERR_OUT_OF_RANGE', 'The value of "options.handshakeTimeout" is out of range. It must be > 0. Received 0');
  if (opts.serverHostname !== undefined && typeof opts.serverHostname !== 'string') throw invalidArgType('options.serverHostname', 'of type string', opts.serverHostname);
  if (opts.serverSide && opts.serverHostname !== undefined) throw invalidArgValue('options.serverHostname', opts.serverHostname, 'is only meaningful on the client side');
  let checks: TlsCheckOptions = {};
  let secureContext: tls.SecureContext;
  if (tlsOption === true) {
    secureContext = tls.createSecureContext({});
  } else if (isSecureContext(tlsOption)) {
    secureContext = tlsOption;
  } else {
    if (tlsOption === null || typeof tlsOption !== 'object' || Array.isArray(tlsOption)) {
      throw invalidArgType('options.tls', 'true, a tls.SecureContext or an object of tls.SecureContextOptions', tlsOption);
    }
    checks = tlsOption as TlsCheckOptions;
    if (checks.checkServerIdentity !== undefined && typeof checks.checkServerIdentity !== 'function') {
      throw invalidArgType('options.tls.checkServerIdentity', 'of type function', checks.checkServerIdentity);
    }
    secureContext = isSecureContext(checks.secureContext) ? checks.secureContext : tls.createSecureContext(tlsOption as tls.SecureContextOptions);
  }
  if (opts.serverSide && !isSecureContext(tlsOption) && checks.secureContext === undefined && (tlsOption === true || (tlsOption as tls.SecureContextOptions).key === undefined && (tlsOption as tls.SecureContextOptions).pfx === undefined)) {
    throw invalidArgValue('options.tls', tlsOption, 'needs a key and certificate (key/cert or pfx) on the server side');
  }
  let hostname: string | null = null;
  let servername: string | undefined;
  if (!opts.serverSide) {
    const name = opts.serverHostname !== undefined ? (opts.serverHostname as string) : (opts.host ?? '');
    hostname = name === '' ? null : name;
    servername = hostname !== null && isIP(hostname) === 0 ? hostname : undefined;
  }
  return {
    serverSide: opts.serverSide,
    secureContext,
    rejectUnauthorized: checks.rejectUnauthorized !== false,
    requestCert: checks.requestCert === true,
    ALPNProtocols: checks.ALPNProtocols,
    checkServerIdentity: checks.checkServerIdentity,
    session: checks.session,
    hostname,
    servername,
    handshakeTimeout,
  };
}

/** The raw transport the TLS records travel on (a SocketTransport, or anything shaped like it). */
type RawTransport = Transport;

/** What sits under Node's TLSSocket: bytes in from the raw transport, TLS records out to it. */
interface Wire {
  /** The object given to TLSSocket as its `socket`. */
  readonly tlsParent: Duplex;
  /** Bytes read by the raw transport; false: stop reading until `_wireWantsData`. */
  feed(data: Buffer): boolean;
  feedEof(): void;
  destroy(): void;
  readonly destroyed: boolean;
  /** Bytes TLS handed down that the raw transport has not taken yet. */
  readonly pending: number;
}

/**
 * The portable wire: a Duplex, which Node wraps in its JSStreamSocket. Every record TLS writes
 * costs a stream write plus a setImmediate before the next may go.
 */
class DuplexWire extends Duplex implements Wire {
  readonly #owner: SslTransport;
  constructor(owner: SslTransport) {
    super({ allowHalfOpen: true, decodeStrings: false, autoDestroy: false });
    this.#owner = owner;
  }
  get tlsParent(): Duplex {
    return this;
  }
  get pending(): number {
    return this.writableLength;
  }
  feed(data: Buffer): boolean {
    return this.push(data);
  }
  feedEof(): void {
    this.push(null);
  }
  override _read(): void {
    this.#owner._wireWantsData();
  }
  override _write(chunk: Buffer, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#owner._wireWrite(chunk, cb);
  }
  override _writev(chunks: Array<{ chunk: Buffer }>, cb: (err?: Error | null) => void): void {
    this.#owner._wireWrite(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), cb);
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.#owner._wireFinal();
    cb();
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#owner._wireDestroyed();
    cb(err);
  }
}

interface JSStreamHandle {
  readBuffer(data: Buffer): void;
  emitEOF(): void;
  finishWrite(req: object, status: number): void;
  finishShutdown(req: object, status: number): void;
  close: (cb: () => void) => void;
  isClosing: () => boolean;
  onreadstart: () => number;
  onreadstop: () => number;
  onshutdown: (req: object) => number;
  onwrite: (req: object, bufs: Buffer[]) => number;
}

// Node's own C++ stream that calls into JS (what JSStreamSocket wraps), taken directly so TLS
// records go straight to the raw transport: no Duplex, no setImmediate per write. It sits in
// process.binding's allow-list; without it, the DuplexWire does the same job more slowly.
const JSStream: (new () => JSStreamHandle) | null = (() => {
  if (process.env.EVLOOP_TLS_WIRE === 'duplex') return null;
  try {
    const binding = (process as unknown as { binding(name: string): { JSStream?: new () => JSStreamHandle } }).binding('js_stream');
    return typeof binding.JSStream === 'function' ? binding.JSStream : null;
  } catch {
    return null;
  }
})();

const UV_ECANCELED = -125;

/** The fast wire: a net.Socket over Node's JSStream handle, driven by hand. */
class NativeWire implements Wire {
  readonly tlsParent: Duplex;
  readonly #handle: JSStreamHandle;
  readonly #owner: SslTransport;
  #writeReq: object | null = null;
  #pending = 0;
  #destroyed = false;
  readonly #finishWrite = (): void => {
    const req = this.#writeReq;
    if (req === null || this.#destroyed) return;
    this.#writeReq = null;
    this.#pending = 0;
    this.#handle.finishWrite(req, 0);
  };

  constructor(owner: SslTransport) {
    this.#owner = owner;
    const handle = new JSStream!();
    this.#handle = handle;
    handle.isClosing = () => this.#destroyed;
    handle.onreadstart = () => {
      owner._wireWantsData();
      return 0;
    };
    handle.onreadstop = () => {
      owner._wireFull();
      return 0;
    };
    handle.onshutdown = (req) => {
      owner._wireFinal();
      queueMicrotask(() => {
        if (!this.#destroyed) handle.finishShutdown(req, 0);
      });
      return 0;
    };
    handle.onwrite = (req, bufs) => {
      this.#writeReq = req;
      let n = 0;
      for (let i = 0; i < bufs.length; i++) n += bufs[i]!.length;
      this.#pending = n;
      // Completion is reported after this call returns (TLS must not see it re-entrantly).
      owner._wireWrite(bufs.length === 1 ? bufs[0]! : bufs, this.#deferFinish);
      return 0;
    };
    handle.close = (cb) => {
      this.#destroy();
      setImmediate(cb);
    };
    this.tlsParent = new NetSocket({ handle: handle as never, manualStart: true } as never);
  }

  readonly #deferFinish = (): void => queueMicrotask(this.#finishWrite);

  get destroyed(): boolean {
    return this.#destroyed;
  }
  get pending(): number {
    return this.#pending;
  }
  feed(data: Buffer): boolean {
    if (!this.#destroyed) this.#handle.readBuffer(data);
    return true; // reading stops through onreadstop
  }
  feedEof(): void {
    if (!this.#destroyed) this.#handle.emitEOF();
  }
  destroy(): void {
    if (this.#destroyed) return;
    this.tlsParent.destroy();
    this.#destroy();
  }
  #destroy(): void {
    if (this.#destroyed) return;
    const req = this.#writeReq;
    this.#writeReq = null;
    if (req !== null) this.#handle.finishWrite(req, UV_ECANCELED);
    this.#destroyed = true;
    this.#owner._wireDestroyed();
  }
}

const STATE_HANDSHAKE = 0;
const STATE_OPEN = 1;
const STATE_CLOSED = 2;

/**
 * The application's transport over TLS. It is also (through `wireProtocol`) the protocol of
 * the raw transport underneath.
 */
export class SslTransport implements Transport {
  readonly #loop: IoLoop;
  readonly #config: TlsConfig;
  #protocol: StreamProtocol;
  #buffered: boolean;
  #raw: RawTransport | null = null;
  #wire: Wire | null = null;
  #socket: tls.TLSSocket | null = null;
  #state = STATE_HANDSHAKE;
  #waiter: FutureLike<SslTransport> | null;
  readonly #callConnectionMade: boolean;
  #appConnected = false;
  #timer: { cancel(): void } | null = null;
  #early: Buffer[] | null = null;
  // Filled in when the handshake completes (asyncio's way): still there after the close.
  #peercert: tls.PeerCertificate | null = null;
  #cipher: tls.CipherNameAndProtocol | undefined = undefined;
  #alpn: string | null = null;
  #tlsVersion: string | null = null;
  #closing = false;
  #lostCalled = false;
  #pendingError: Error | null = null;
  #gracefulRawClose = false;
  // reading
  #appReading = true;
  #wireBlocked = false;
  #rawReading = true;
  #eofSeen = false;
  // writing
  #high: number;
  #low: number;
  #appWritePaused = false;
  #rawWritePaused = false;
  #heldWireCb: ((err?: Error | null) => void) | null = null;
  readonly #afterWrite = (): void => this.#maybeResumeProtocol();
  readonly #onData = (chunk: Buffer): void => this.#deliver(chunk);

  /** The protocol the raw transport drives. */
  readonly wireProtocol: ProtocolLike;

  constructor(loop: IoLoop, protocol: StreamProtocol, config: TlsConfig, waiter: FutureLike<SslTransport> | null, callConnectionMade: boolean) {
    this.#loop = loop;
    this.#config = config;
    this.#protocol = protocol;
    this.#buffered = isBufferedProtocol(protocol);
    this.#waiter = waiter;
    this.#callConnectionMade = callConnectionMade;
    [this.#high, this.#low] = resolveWriteBufferLimits();
    const self = this;
    this.wireProtocol = {
      connectionMade(raw: RawTransport): void {
        self._attach(raw);
      },
      dataReceived(data: Buffer): void {
        const wire = self.#wire;
        if (wire !== null && !wire.feed(data)) self.#blockWire();
      },
      eofReceived(): boolean {
        self.#eofSeen = true;
        if (self.#state === STATE_HANDSHAKE) {
          // asyncio: EOF in the handshake is a reset; do not wait for the time-out.
          self.#handshakeFailed(codedError(Error, 'ECONNRESET', 'Connection closed by the peer during the TLS handshake'));
          return true;
        }
        self.#wire?.feedEof();
        return true; // the TLS layer decides when the raw transport closes
      },
      connectionLost(err: Error | null): void {
        self.#rawLost(err);
      },
      pauseWriting(): void {
        self.#rawWritePaused = true;
      },
      resumeWriting(): void {
        self.#rawWritePaused = false;
        const cb = self.#heldWireCb;
        self.#heldWireCb = null;
        cb?.();
        self.#maybeResumeProtocol();
      },
    };
  }

  /** @internal Starts the handshake over `raw` (its connectionMade, or loop.startTls). */
  _attach(raw: RawTransport): void {
    this.#raw = raw;
    const config = this.#config;
    const wire: Wire = JSStream !== null ? new NativeWire(this) : new DuplexWire(this);
    this.#wire = wire;
    let socket: tls.TLSSocket;
    if (config.serverSide) {
      socket = new tls.TLSSocket(wire.tlsParent as never, {
        isServer: true,
        secureContext: config.secureContext,
        requestCert: config.requestCert,
        rejectUnauthorized: config.rejectUnauthorized,
        ALPNProtocols: config.ALPNProtocols,
      });
      socket.once('secure', () => this.#serverSecure());
    } else {
      socket = tls.connect({
        socket: wire.tlsParent as never,
        secureContext: config.secureContext,
        rejectUnauthorized: config.rejectUnauthorized,
        ALPNProtocols: config.ALPNProtocols,
        servername: config.servername,
        host: config.hostname ?? undefined,
        session: config.session,
        // No name to check (serverHostname ''): the chain is still verified.
        checkServerIdentity: config.hostname === null ? () => undefined : config.checkServerIdentity ?? tls.checkServerIdentity,
      } as tls.ConnectionOptions);
      socket.once('secureConnect', () => this.#handshakeDone());
    }
    this.#socket = socket;
    socket.on('error', (err: Error) => this.#socketError(err));
    socket.on('end', () => this.#loop.callSoon(() => this.#peerEnded()));
    socket.on('data', this.#onData);
    socket.on('close', () => this.#socketClosed());
    this.#timer = this.#loop.callLater(config.handshakeTimeout, () => this.#handshakeTimedOut());
  }

  // ---- handshake -----------------------------------------------------------------------------

  #serverSecure(): void {
    const socket = this.#socket!;
    if (this.#config.requestCert) {
      const verifyError = (socket as unknown as { _handle: { verifyError(): Error | null } })._handle.verifyError();
      if (verifyError !== null && this.#config.rejectUnauthorized) return this.#handshakeFailed(verifyError);
    }
    // What tls.Server does once a client is in: later TLS errors are then emitted as 'error'
    // (before, Node keeps them for the server's 'tlsClientError', which there is none of).
    (socket as unknown as { _releaseControl?(): void })._releaseControl?.();
    this.#handshakeDone();
  }

  #handshakeDone(): void {
    if (this.#state !== STATE_HANDSHAKE) return;
    this.#state = STATE_OPEN;
    this.#timer?.cancel();
    this.#timer = null;
    const socket = this.#socket!;
    const cert = socket.getPeerCertificate();
    this.#peercert = cert !== null && Object.keys(cert).length > 0 ? cert : null;
    this.#cipher = socket.getCipher();
    this.#alpn = socket.alpnProtocol || null;
    this.#tlsVersion = socket.getProtocol();
    if (this.#callConnectionMade) {
      this.#appConnected = true;
      try {
        this.#protocol.connectionMade?.(this as never);
      } catch (err) {
        this.#settleWaiter(err as Error);
        this.#fatalError(err, 'Fatal error: protocol.connectionMade() call failed.');
        return;
      }
    } else {
      this.#appConnected = true;
    }
    this.#settleWaiter(null);
    const early = this.#early;
    this.#early = null;
    if (early !== null) for (const chunk of early) this.#deliver(chunk);
  }

  #settleWaiter(err: Error | null): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    if (waiter === null || waiter.done()) return;
    if (err === null) waiter.setResult(this);
    else waiter.setException(err);
  }

  #handshakeTimedOut(): void {
    this.#timer = null;
    if (this.#state !== STATE_HANDSHAKE) return;
    const err = new TimeoutError(`TLS handshake is taking longer than ${this.#config.handshakeTimeout} ms: aborting the connection`);
    (err as { code: string }).code = 'ERR_TLS_HANDSHAKE_TIMEOUT';
    this.#handshakeFailed(err);
  }

  #handshakeFailed(err: Error): void {
    if (this.#state !== STATE_HANDSHAKE) return;
    this.#state = STATE_CLOSED;
    this.#timer?.cancel();
    this.#timer = null;
    this.#pendingError = err;
    this.#settleWaiter(err);
    this.#teardown();
  }

  // ---- events from the TLS socket ------------------------------------------------------------

  #socketError(err: Error): void {
    if (this.#state === STATE_HANDSHAKE) return this.#handshakeFailed(err);
    if (this.#state === STATE_CLOSED) return;
    // A connection error is the peer going away, reported through connectionLost.
    this.#fatalError(err, 'Fatal error on TLS transport');
  }

  /** Node's TLSSocket went away by itself: unless the raw transport is already closing, drop it. */
  #socketClosed(): void {
    if (this.#gracefulRawClose || this.#state === STATE_CLOSED) return;
    if (this.#state === STATE_HANDSHAKE) {
      this.#handshakeFailed(codedError(Error, 'ECONNRESET', 'The TLS connection closed during the handshake'));
      return;
    }
    this.#state = STATE_CLOSED;
    this.#teardown();
  }

  #deliver(chunk: Buffer): void {
    if (this.#state === STATE_HANDSHAKE) {
      // Decrypted before the handshake event reached us: keep it for after connectionMade.
      (this.#early ??= []).push(chunk);
      return;
    }
    if (this.#state !== STATE_OPEN || this.#lostCalled) return;
    try {
      if (!this.#buffered) {
        (this.#protocol as ProtocolLike).dataReceived?.(chunk);
        return;
      }
      const protocol = this.#protocol as BufferedProtocolLike;
      let offset = 0;
      while (offset < chunk.length) {
        const buf = protocol.getBuffer(chunk.length - offset);
        if (!(buf instanceof Uint8Array) || buf.length === 0) {
          throw codedError(TypeError, 'ERR_INVALID_RETURN_VALUE', 'getBuffer() returned an empty or non-byte buffer');
        }
        const n = Math.min(buf.length, chunk.length - offset);
        buf.set(chunk.subarray(offset, offset + n));
        offset += n;
        protocol.bufferUpdated(n);
      }
    } catch (err) {
      this.#fatalError(err, 'Fatal error: protocol.dataReceived() call failed.');
    }
  }

  #peerEnded(): void {
    if (this.#state !== STATE_OPEN || this.#lostCalled) return;
    try {
      // asyncio: TLS has no half-close, a truthy answer changes nothing.
      this.#protocol.eofReceived?.();
    } catch (err) {
      return this.#fatalError(err, 'Fatal error: protocol.eofReceived() call failed.');
    }
    this.close();
  }

  // ---- the wire ------------------------------------------------------------------------------

  /** @internal */
  _wireWrite(chunk: Buffer | Buffer[], cb: (err?: Error | null) => void): void {
    const raw = this.#raw;
    if (raw === null || raw.isClosing()) return cb();
    if (Array.isArray(chunk)) raw.writelines(chunk);
    else raw.write(chunk);
    if (this.#rawWritePaused) this.#heldWireCb = cb;
    else cb();
  }

  /** @internal TLS sent its close_notify: close the raw transport once it is flushed. */
  _wireFinal(): void {
    this.#gracefulRawClose = true;
    this.#raw?.close();
  }

  /** @internal */
  _wireWantsData(): void {
    if (!this.#wireBlocked) return;
    this.#wireBlocked = false;
    this.#syncRawReading();
  }

  /** @internal */
  _wireDestroyed(): void {
    if (!this.#gracefulRawClose) this.#raw?.abort();
  }

  /** @internal TLS has buffered enough decrypted data: stop reading the raw transport. */
  _wireFull(): void {
    this.#blockWire();
  }

  #blockWire(): void {
    this.#wireBlocked = true;
    this.#syncRawReading();
  }

  #syncRawReading(): void {
    const raw = this.#raw;
    if (raw === null) return;
    const want = this.#appReading && !this.#wireBlocked && !this.#eofSeen;
    if (want === this.#rawReading) return;
    this.#rawReading = want;
    if (want) raw.resumeReading();
    else raw.pauseReading();
  }

  #rawLost(err: Error | null): void {
    this.#timer?.cancel();
    this.#timer = null;
    if (this.#state === STATE_HANDSHAKE) {
      this.#state = STATE_CLOSED;
      const e = err ?? codedError(Error, 'ECONNRESET', 'Connection lost during the TLS handshake');
      this.#pendingError = e;
      this.#settleWaiter(e);
    }
    this.#state = STATE_CLOSED;
    this.#destroySocket();
    if (this.#appConnected && !this.#lostCalled) {
      this.#lostCalled = true;
      const reported = this.#pendingError ?? err;
      try {
        this.#protocol.connectionLost?.(reported);
      } catch (e) {
        this.#loop.callExceptionHandler({ message: 'Fatal error: protocol.connectionLost() call failed.', exception: e, transport: this, protocol: this.#protocol });
      }
    }
  }

  #destroySocket(): void {
    const socket = this.#socket;
    if (socket !== null && !socket.destroyed) {
      socket.removeListener('data', this.#onData);
      socket.destroy();
    }
    const wire = this.#wire;
    if (wire !== null && !wire.destroyed) wire.destroy();
    const held = this.#heldWireCb;
    this.#heldWireCb = null;
    held?.();
  }

  /** Aborts the raw transport; its connectionLost tears the rest down. */
  #teardown(): void {
    if (this.#raw !== null) this.#raw.abort();
    else this.#destroySocket();
  }

  #fatalError(err: unknown, message: string): void {
    if (!isConnectionError(err)) {
      this.#loop.callExceptionHandler({ message, exception: err, transport: this, protocol: this.#protocol });
    }
    if (this.#pendingError === null) this.#pendingError = err as Error;
    this.#closing = true;
    this.#state = STATE_CLOSED;
    this.#teardown();
  }

  // ---- Transport: reading --------------------------------------------------------------------

  pauseReading(): void {
    if (this.#closing || !this.#appReading) return;
    this.#appReading = false;
    this.#socket?.pause();
    this.#syncRawReading();
  }

  resumeReading(): void {
    if (this.#closing || this.#appReading) return;
    this.#appReading = true;
    this.#socket?.resume();
    this.#syncRawReading();
  }

  isReading(): boolean {
    return this.#appReading && !this.#closing;
  }

  // ---- Transport: writing --------------------------------------------------------------------

  write(data: Uint8Array): void {
    validateBytes(data);
    const socket = this.#socket;
    if (this.#closing || this.#state !== STATE_OPEN || socket === null || data.length === 0) return;
    // Only a chunk that waits is kept by reference: copy it, so the caller may reuse its buffer.
    socket.write(socket.writableLength === 0 ? data : Buffer.from(data), this.#afterWrite);
    this.#maybePauseProtocol();
  }

  writelines(list: Iterable<Uint8Array>): void {
    for (const data of list) this.write(data);
  }

  writeEof(): void {
    throw codedError(Error, 'ERR_METHOD_NOT_IMPLEMENTED', 'TLS transports do not support half-closes (writeEof)');
  }

  canWriteEof(): boolean {
    return false;
  }

  getWriteBufferSize(): number {
    return (this.#socket?.writableLength ?? 0) + (this.#wire?.pending ?? 0) + (this.#raw?.getWriteBufferSize() ?? 0);
  }

  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    [this.#high, this.#low] = resolveWriteBufferLimits(limits);
    this.#maybePauseProtocol();
  }

  getWriteBufferLimits(): [number, number] {
    return [this.#low, this.#high];
  }

  #maybePauseProtocol(): void {
    if (this.#appWritePaused || this.getWriteBufferSize() <= this.#high) return;
    this.#appWritePaused = true;
    try {
      this.#protocol.pauseWriting?.();
    } catch (err) {
      this.#loop.callExceptionHandler({ message: 'protocol.pauseWriting() failed', exception: err, transport: this, protocol: this.#protocol });
    }
  }

  #maybeResumeProtocol(): void {
    if (!this.#appWritePaused || this.#lostCalled || this.getWriteBufferSize() > this.#low) return;
    this.#appWritePaused = false;
    try {
      this.#protocol.resumeWriting?.();
    } catch (err) {
      this.#loop.callExceptionHandler({ message: 'protocol.resumeWriting() failed', exception: err, transport: this, protocol: this.#protocol });
    }
  }

  // ---- Transport: closing --------------------------------------------------------------------

  isClosing(): boolean {
    return this.#closing;
  }

  /** Flushes, sends close_notify, then closes the connection; `connectionLost(null)` follows. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#state !== STATE_OPEN) return this.#teardown();
    this.#appReading = false;
    this.#syncRawReading();
    this.#socket!.end();
  }

  abort(): void {
    this.#closing = true;
    if (this.#state === STATE_HANDSHAKE) {
      this.#handshakeFailed(codedError(Error, 'ECONNABORTED', 'The TLS connection was aborted during the handshake'));
      return;
    }
    this.#state = STATE_CLOSED;
    this.#teardown();
  }

  // ---- information ---------------------------------------------------------------------------

  getExtraInfo(name: 'peername' | 'sockname'): SocketAddress | undefined;
  getExtraInfo(name: 'fd'): number;
  getExtraInfo(name: 'peercert'): tls.PeerCertificate | null;
  getExtraInfo(name: 'cipher'): tls.CipherNameAndProtocol | undefined;
  getExtraInfo(name: 'alpnProtocol'): string | null | undefined;
  getExtraInfo(name: string, fallback?: unknown): unknown;
  getExtraInfo(name: string, fallback?: unknown): unknown {
    const socket = this.#socket;
    switch (name) {
      case 'peercert':
        return this.#peercert ?? fallback ?? null;
      case 'cipher':
        return this.#cipher ?? fallback;
      case 'alpnProtocol':
        return this.#state === STATE_HANDSHAKE ? fallback : this.#alpn;
      case 'tlsProtocol':
        return this.#tlsVersion ?? fallback;
      case 'session':
        return socket?.getSession() ?? fallback;
      case 'tlsSocket':
        return socket ?? fallback;
      case 'serverSide':
        return this.#config.serverSide;
      default:
        return this.#raw === null ? fallback : this.#raw.getExtraInfo(name, fallback);
    }
  }

  getProtocol(): StreamProtocol {
    return this.#protocol;
  }

  setProtocol(protocol: StreamProtocol): void {
    this.#protocol = protocol;
    this.#buffered = isBufferedProtocol(protocol);
  }

  get [Symbol.toStringTag](): string {
    return `SslTransport${this.#config.serverSide ? ' server' : ''}${this.#closing ? ' closing' : ''}`;
  }
}

/**
 * `loop.startTls(transport, protocol, tlsOptions, { serverSide, serverHostname, handshakeTimeout })`:
 * upgrades a live connection (asyncio's start_tls). Resolves to the new transport once the
 * handshake is done; the old transport must no longer be used. `protocol` keeps its place (no
 * second connectionMade).
 */
export function startTls(
  loop: IoLoop,
  transport: RawTransport,
  protocol: StreamProtocol,
  tlsOption: unknown,
  opts: { serverSide?: boolean; serverHostname?: string; handshakeTimeout?: number } = {},
): FutureLike<SslTransport> {
  if (transport === null || typeof transport !== 'object' || typeof transport.setProtocol !== 'function' || typeof transport.write !== 'function') {
    throw invalidArgType('transport', 'a stream Transport', transport);
  }
  if (protocol === null || typeof protocol !== 'object') throw invalidArgType('protocol', 'a Protocol', protocol);
  validateObject(opts, 'options');
  if (transport.isClosing()) throw codedError(Error, 'ERR_INVALID_STATE', 'startTls() on a closing transport');
  const serverSide = opts.serverSide === true;
  const peer = serverSide ? null : (transport.getExtraInfo('peername') as { address?: string } | undefined);
  const config = resolveTlsConfig(tlsOption, { serverSide, serverHostname: opts.serverHostname, handshakeTimeout: opts.handshakeTimeout, host: peer?.address ?? null });
  const waiter = loop.createFuture<SslTransport>();
  const ssl = new SslTransport(loop, protocol, config, waiter, false);
  // Nothing arrives for the old protocol from here on; what is read is TLS.
  transport.setProtocol(ssl.wireProtocol);
  ssl._attach(transport);
  // asyncio resumes reading for the handshake, whatever the plaintext protocol had asked.
  transport.resumeReading();
  waiter.addDoneCallback((() => {
    if (waiter.cancelled()) ssl.abort();
  }) as never);
  return waiter;
}

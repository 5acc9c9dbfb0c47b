// Addresses in and out: `{ address, family, port }` everywhere, as Node's `net` gives them;
// `{ address, port }` and asyncio's `[host, port]` accepted wherever one is passed in.
import * as dns from 'dns';
import * as net from 'net';
import type { SocketAddress } from '../native/binding';
import { invalidArgType, invalidArgValue, validateInteger } from '../util/validate';

export type AddressInput = { address: string; port: number; family?: string } | readonly [string, number];

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export function validatePort(port: unknown, name = 'port'): number {
  return validateInteger(port, name, 0, 65535);
}

/** `{ address, port }` or `[host, port]` → `{ host, port }`, with a TypeError for anything else. */
export function normalizeAddress(addr: unknown, name: string): { host: string; port: number } {
  if (Array.isArray(addr)) {
    if (addr.length < 2 || typeof addr[0] !== 'string') throw invalidArgType(name, 'an { address, port } object or a [host, port] pair', addr);
    return { host: addr[0], port: validatePort(addr[1], `${name}[1]`) };
  }
  if (addr !== null && typeof addr === 'object' && typeof (addr as { address?: unknown }).address === 'string') {
    return { host: (addr as { address: string }).address, port: validatePort((addr as { port?: unknown }).port, `${name}.port`) };
  }
  throw invalidArgType(name, 'an { address, port } object or a [host, port] pair', addr);
}

export function validateFamily(family: unknown): 0 | 4 | 6 {
  if (family === undefined || family === 0) return 0;
  if (family === 4 || family === 6) return family;
  if (family === 'IPv4') return 4;
  if (family === 'IPv6') return 6;
  throw invalidArgValue('family', family, 'must be 0, 4, 6, "IPv4" or "IPv6"');
}

export function validateHost(host: unknown, name = 'host'): string {
  if (typeof host !== 'string' || host.length === 0) throw invalidArgType(name, 'a non-empty string', host);
  return host;
}

/** A literal IP needs no lookup; names go through getaddrinfo on libuv's thread pool. */
export function literalAddress(host: string): ResolvedAddress | null {
  const family = net.isIP(host);
  return family === 0 ? null : { address: host, family: family as 4 | 6 };
}

/** Resolves without blocking the loop: the callback runs on a later turn of Node's loop. */
export function lookupAll(host: string, family: 0 | 4 | 6, callback: (err: Error | null, addrs: ResolvedAddress[]) => void): void {
  const literal = literalAddress(host);
  if (literal !== null) {
    if (family !== 0 && family !== literal.family) {
      const err = Object.assign(new Error(`getaddrinfo EAI_FAMILY ${host}`), { code: 'EAI_FAMILY', hostname: host });
      queueMicrotask(() => callback(err, []));
    } else {
      queueMicrotask(() => callback(null, [literal]));
    }
    return;
  }
  dns.lookup(host, { all: true, family }, (err, addrs) => {
    if (err) return callback(err, []);
    callback(null, addrs.map((a) => ({ address: a.address, family: a.family as 4 | 6 })));
  });
}

export function domainOf(family: 4 | 6): 'inet' | 'inet6' {
  return family === 6 ? 'inet6' : 'inet';
}

export function formatAddress(addr: SocketAddress | undefined): string {
  if (addr === undefined) return '?';
  if (addr.family === 'unix') return addr.address;
  return addr.family === 'IPv6' ? `[${addr.address}]:${addr.port}` : `${addr.address}:${addr.port}`;
}

/**
 * Node's way of saying where: an OS error of connect/bind/listen gets the address it was about
 * (`address` and `port`; a Unix socket's `address` and `path`), and the message ends with it
 * (`connect ECONNREFUSED 127.0.0.1:6379`). Errors that are not OS errors pass through.
 */
export function errorWithAddress<E>(err: E, address: string, port?: number): E {
  if (!(err instanceof Error)) return err;
  const e = err as Error & { syscall?: unknown; address?: string; port?: number; path?: string };
  if (typeof e.syscall !== 'string' || e.address !== undefined) return err;
  // V8 formats `stack` lazily: read it before the message changes, then mend its first line.
  const stack = e.stack;
  const before = `${e.name}: ${e.message}`;
  e.address = address;
  if (port === undefined) e.path = address;
  else e.port = port;
  // As Node prints it, IPv6 included (`connect ECONNREFUSED ::1:6379`).
  e.message += port === undefined ? ` ${address}` : ` ${address}:${port}`;
  if (typeof stack === 'string' && stack.startsWith(before)) e.stack = `${e.name}: ${e.message}${stack.slice(before.length)}`;
  return err;
}

// redis:// and rediss:// URLs (and unix:// socket paths) as connection options.
import { invalidArgType, invalidArgValue } from '../util/validate';

export interface RedisUrlParts {
  host: string;
  port: number;
  path?: string;
  username?: string;
  password?: string;
  db?: number;
}

/**
 * `redis://[[user]:password@]host[:port][/db]`, `unix:///path/to/socket[?db=N]`. Throws TypeError
 * ('ERR_INVALID_ARG_TYPE' for a non-string, 'ERR_INVALID_ARG_VALUE' for anything else wrong).
 */
export function parseRedisUrl(url: unknown, name = 'url'): RedisUrlParts {
  if (typeof url !== 'string') throw invalidArgType(name, 'of type string', url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw invalidArgValue(name, url, 'must be a redis:// URL');
  }
  const out: RedisUrlParts = { host: '127.0.0.1', port: 6379 };
  if (u.protocol === 'unix:') {
    if (u.pathname === '') throw invalidArgValue(name, url, 'must name a socket path');
    out.path = decodeURIComponent(u.pathname);
  } else if (u.protocol === 'redis:') {
    if (u.hostname !== '') out.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    if (u.port !== '') out.port = Number(u.port);
    const dbPath = u.pathname.replace(/^\//, '');
    if (dbPath !== '') out.db = parseDb(dbPath, name, url);
  } else if (u.protocol === 'rediss:') {
    throw invalidArgValue(name, url, 'uses TLS (rediss:), which this client does not speak yet');
  } else {
    throw invalidArgValue(name, url, 'must be a redis:// URL');
  }
  if (u.username !== '') out.username = decodeURIComponent(u.username);
  if (u.password !== '') out.password = decodeURIComponent(u.password);
  const db = u.searchParams.get('db');
  if (db !== null) out.db = parseDb(db, name, url);
  return out;
}

function parseDb(text: string, name: string, url: string): number {
  if (!/^\d{1,5}$/.test(text)) throw invalidArgValue(name, url, 'must have a database number as its path');
  return Number(text);
}

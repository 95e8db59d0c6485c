import { z } from 'zod';

/** Where the Redis store lives: one server (or a primary), a Sentinel-managed primary, or a Cluster. */
export type RedisLocation =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: HostPort[]; masterName: string; db: number; username?: string; password?: string; tls: boolean }
  | { mode: 'cluster'; nodes: HostPort[]; username?: string; password?: string; tls: boolean };

export interface HostPort {
  host: string;
  port: number;
}

export const REDIS_URL_FORMS =
  'redis://[user:pass@]host:port[/db], rediss://…, redis-sentinel://[user:pass@]h1:p1,h2:p2/<masterName>[?db=N], redis-cluster://[user:pass@]h1:p1,h2:p2[,…]';

/** Hides a password in scheme://user:pass@host URLs before it reaches a log or an error. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

const hostPortSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'each host must be host:port')
  .transform((s) => {
    const i = s.lastIndexOf(':');
    return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
  })
  .refine((h) => h.port > 0 && h.port < 65536, 'port must be 1-65535');
const hostListSchema = z
  .string()
  .min(1, 'missing host list')
  .transform((s) => s.split(','))
  .pipe(z.array(hostPortSchema).min(1));
const dbSchema = z.string().regex(/^\d+$/, 'database must be a number').transform(Number);

/** scheme://[user[:pass]@]rest — split by hand because URL() refuses a comma-separated host list. */
const multiHostSchema = z
  .string()
  .regex(/^(redis|rediss)-(sentinel|cluster):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/, 'malformed URL')
  .transform((s) => {
    const m = /^(redis|rediss)-(sentinel|cluster):\/\/([^/?#]*)([^?#]*)(\?[^#]*)?$/.exec(s) as RegExpExecArray;
    const authority = m[3] ?? '';
    const at = authority.lastIndexOf('@');
    const userinfo = at >= 0 ? authority.slice(0, at) : '';
    const colon = userinfo.indexOf(':');
    const decode = (x: string) => decodeURIComponent(x);
    return {
      tls: m[1] === 'rediss',
      mode: m[2] as 'sentinel' | 'cluster',
      hosts: at >= 0 ? authority.slice(at + 1) : authority,
      username: colon >= 0 ? decode(userinfo.slice(0, colon)) : decode(userinfo),
      password: colon >= 0 ? decode(userinfo.slice(colon + 1)) : '',
      path: m[4] ?? '',
      query: new URLSearchParams(m[5] ?? ''),
    };
  });

function fail(url: string, why: string): never {
  throw new Error(`invalid STORE_URL "${redactUrl(url)}": ${why}; expected ${REDIS_URL_FORMS}`);
}

function firstIssue(err: z.ZodError): string {
  return err.issues[0]?.message ?? 'invalid';
}

/** Parses the Redis forms of STORE_URL; errors name STORE_URL and never the password. */
export function parseRedisUrl(url: string): RedisLocation {
  if (url.startsWith('redis://') || url.startsWith('rediss://')) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      fail(url, 'not a valid URL');
    }
    if (u.hostname === '') fail(url, 'missing host');
    const db = u.pathname.replace(/^\//, '');
    if (db !== '' && !/^\d+$/.test(db)) fail(url, 'database must be a number (redis://host:port/0)');
    return { mode: 'single', url };
  }
  const parsed = multiHostSchema.safeParse(url);
  if (!parsed.success) fail(url, firstIssue(parsed.error));
  const p = parsed.data;
  const hosts = hostListSchema.safeParse(p.hosts);
  if (!hosts.success) fail(url, firstIssue(hosts.error));
  const auth = { ...(p.username ? { username: p.username } : {}), ...(p.password ? { password: p.password } : {}) };
  if (p.mode === 'cluster') {
    if (p.path !== '' && p.path !== '/') fail(url, 'a cluster URL has no path (Redis Cluster has only database 0)');
    if ([...p.query.keys()].length > 0) fail(url, 'a cluster URL takes no query parameters');
    return { mode: 'cluster', nodes: hosts.data, tls: p.tls, ...auth };
  }
  const masterName = decodeURIComponent(p.path.replace(/^\//, ''));
  if (masterName === '' || masterName.includes('/')) fail(url, 'a sentinel URL must end with /<masterName>');
  for (const k of p.query.keys()) if (k !== 'db') fail(url, `unknown query parameter "${k}" (only db)`);
  const dbText = p.query.get('db');
  let db = 0;
  if (dbText !== null) {
    const r = dbSchema.safeParse(dbText);
    if (!r.success) fail(url, firstIssue(r.error));
    db = r.data;
  }
  return { mode: 'sentinel', sentinels: hosts.data, masterName, db, tls: p.tls, ...auth };
}

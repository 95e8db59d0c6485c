import type { Logger } from 'pino';
import { RedisStore, redactUrl as redact } from './redisStore';
import { SqliteStore } from './sqliteStore';
import type { Store } from './types';

export type StoreLocation =
  | { kind: 'sqlite'; filePath: string }
  | { kind: 'redis'; url: string };

const EXAMPLES = 'sqlite:./data/relay.db, sqlite:/abs/path.db, redis://host:6379[/db] or rediss://host:6380[/db]';

/** Parses a store URL without opening anything (used by `doctor` and config validation too). */
export function parseStoreUrl(storeUrl: string): StoreLocation {
  const s = storeUrl.trim();
  if (s.startsWith('sqlite:')) {
    // `sqlite:` + a plain path; `sqlite://` is refused because its meaning (host? absolute path?) is ambiguous.
    const filePath = s.slice('sqlite:'.length);
    if (filePath === '' || filePath.startsWith('//')) {
      throw new Error(`invalid store URL "${storeUrl}": expected sqlite:<file path>, e.g. ${EXAMPLES}`);
    }
    return { kind: 'sqlite', filePath };
  }
  if (s.startsWith('redis://') || s.startsWith('rediss://')) {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      throw new Error(`invalid store URL "${redact(storeUrl)}": not a valid URL; expected ${EXAMPLES}`);
    }
    if (u.hostname === '') throw new Error(`invalid store URL "${redact(storeUrl)}": missing host; expected ${EXAMPLES}`);
    const db = u.pathname.replace(/^\//, '');
    if (db !== '' && !/^\d+$/.test(db)) {
      throw new Error(`invalid store URL "${redact(storeUrl)}": database must be a number (redis://host:port/0)`);
    }
    return { kind: 'redis', url: s };
  }
  throw new Error(`unsupported store URL "${redact(storeUrl)}": expected one of ${EXAMPLES}`);
}

export async function openStore(storeUrl: string, logger?: Logger): Promise<Store> {
  const loc = parseStoreUrl(storeUrl);
  if (loc.kind === 'sqlite') {
    logger?.info({ store: 'sqlite', file: loc.filePath }, 'opening store');
    return SqliteStore.open(loc.filePath, logger ? { logger } : {});
  }
  logger?.info({ store: 'redis', url: redact(loc.url) }, 'opening store');
  return RedisStore.connect(loc.url, logger ? { logger } : {});
}

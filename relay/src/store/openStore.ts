import type { Logger } from 'pino';
import { parseRedisUrl, REDIS_URL_FORMS, redactUrl as redact } from './redis/redisUrl';
import { RedisStore } from './redisStore';
import { SqliteStore } from './sqliteStore';
import type { Store } from './types';

export type StoreLocation = { kind: 'sqlite'; filePath: string } | { kind: 'redis'; url: string };

const EXAMPLES = `sqlite:./data/relay.db, sqlite:/abs/path.db, ${REDIS_URL_FORMS}`;

/** Parses a store URL without opening anything (used by `doctor` and config validation too). */
export function parseStoreUrl(storeUrl: string): StoreLocation {
  const s = storeUrl.trim();
  if (s.startsWith('sqlite:')) {
    // `sqlite:` + a plain path; `sqlite://` is refused because its meaning (host? absolute path?) is ambiguous.
    const filePath = s.slice('sqlite:'.length);
    if (filePath === '' || filePath.startsWith('//')) {
      throw new Error(`invalid STORE_URL "${storeUrl}": expected sqlite:<file path>, e.g. ${EXAMPLES}`);
    }
    return { kind: 'sqlite', filePath };
  }
  if (/^rediss?(-sentinel|-cluster)?:\/\//.test(s)) {
    parseRedisUrl(s); // throws naming STORE_URL, never the password
    return { kind: 'redis', url: s };
  }
  throw new Error(`unsupported STORE_URL "${redact(storeUrl)}": expected one of ${EXAMPLES}`);
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

import { REDIS_MISSING_MESSAGE, redisServerAvailable, startRedisServer, type RedisServerHandle } from './redisServer';

/** The one redis-server shared by every test file of this jest run; files isolate themselves by key prefix. */
declare global {
  // eslint-disable-next-line no-var
  var __RCE_TEST_REDIS__: RedisServerHandle | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (!redisServerAvailable()) {
    throw new Error(`\n\n  ${REDIS_MISSING_MESSAGE}\n`);
  }
  const server = await startRedisServer();
  globalThis.__RCE_TEST_REDIS__ = server;
  // Workers are forked after globalSetup, so they inherit this.
  process.env.TEST_REDIS_URL = server.url;
}

import {
  REDIS_MISSING_MESSAGE,
  redisServerAvailable,
  startRedisCluster,
  startRedisServer,
  type RedisClusterHandle,
  type RedisServerHandle,
} from './redisServer';

/**
 * The one redis-server and the one 3-master Redis Cluster shared by every test file of this jest
 * run; files isolate themselves by key prefix.
 */
declare global {
  var __RCE_TEST_REDIS__: RedisServerHandle | undefined;
  var __RCE_TEST_REDIS_CLUSTER__: RedisClusterHandle | undefined;
}

export default async function globalSetup(): Promise<void> {
  if (!redisServerAvailable()) {
    throw new Error(`\n\n  ${REDIS_MISSING_MESSAGE}\n`);
  }
  const [server, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
  globalThis.__RCE_TEST_REDIS__ = server;
  globalThis.__RCE_TEST_REDIS_CLUSTER__ = cluster;
  // Workers are forked after globalSetup, so they inherit these.
  process.env.TEST_REDIS_URL = server.url;
  process.env.TEST_REDIS_CLUSTER_URL = cluster.url;
}

export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__RCE_TEST_REDIS__;
  const cluster = globalThis.__RCE_TEST_REDIS_CLUSTER__;
  globalThis.__RCE_TEST_REDIS__ = undefined;
  globalThis.__RCE_TEST_REDIS_CLUSTER__ = undefined;
  await Promise.all([server?.stop(), cluster?.stop()]);
}

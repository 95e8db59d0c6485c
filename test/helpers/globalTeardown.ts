export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__RCE_TEST_REDIS__;
  globalThis.__RCE_TEST_REDIS__ = undefined;
  if (server) await server.stop();
}

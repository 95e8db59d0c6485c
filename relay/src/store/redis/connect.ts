import Redis, { Cluster, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { type RedisLocation, redactUrl } from './redisUrl';

export type RedisClient = Redis | Cluster;

export interface ConnectOptions {
  logger?: Logger | undefined;
  commandTimeoutMs: number;
  maxReconnectDelayMs: number;
}

/** Errors that mean "this node cannot take the write now": the command did not run, so resending it is safe. */
const NOT_EXECUTED = /^(READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN)\b/;

/**
 * Opens a client for the location and waits until it is ready. Reconnects forever once it has
 * been connected (backoff up to maxReconnectDelayMs); a wrong address at start fails at once.
 * A write refused by a demoted primary (READONLY after a Sentinel failover) makes the client
 * reconnect, ask the sentinels for the new primary, and resend that command.
 */
export async function connectRedis(location: RedisLocation, display: string, opts: ConnectOptions): Promise<RedisClient> {
  const { logger } = opts;
  let everReady = false;
  let lastError: Error | undefined;
  const backoff = (times: number): number | null => (everReady ? Math.min(50 * 2 ** Math.min(times, 10), opts.maxReconnectDelayMs) : null);
  const common: RedisOptions = {
    connectTimeout: 5000,
    commandTimeout: opts.commandTimeoutMs,
    // Commands issued while disconnected wait at most two reconnect attempts, then fail.
    maxRetriesPerRequest: 1,
    // A script that was sent but unanswered may have run; re-sending could apply it twice. Fail it instead.
    autoResendUnfulfilledCommands: false,
    reconnectOnError: (err) => (NOT_EXECUTED.test(err.message) ? 2 : false),
    retryStrategy: backoff,
  };
  let client: RedisClient;
  if (location.mode === 'single') {
    client = new Redis(location.url, { ...common, lazyConnect: true });
  } else if (location.mode === 'sentinel') {
    client = new Redis({
      ...common,
      lazyConnect: true,
      sentinels: location.sentinels,
      name: location.masterName,
      db: location.db,
      ...(location.username ? { username: location.username } : {}),
      ...(location.password ? { password: location.password } : {}),
      ...(location.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      role: 'master',
      // Subscribes to the sentinels' +switch-master, so a failover is followed without waiting for an error.
      failoverDetector: true,
      sentinelRetryStrategy: (times) => (everReady ? Math.min(100 * times, opts.maxReconnectDelayMs) : times > 2 ? null : 100),
    });
  } else {
    client = new Cluster(location.nodes, {
      lazyConnect: true,
      scaleReads: 'master',
      clusterRetryStrategy: (times) => backoff(times),
      retryDelayOnFailover: 100,
      retryDelayOnClusterDown: 100,
      redisOptions: {
        ...common,
        ...(location.username ? { username: location.username } : {}),
        ...(location.password ? { password: location.password } : {}),
        ...(location.tls ? { tls: {} } : {}),
      },
    });
  }
  let down = false;
  client.on('error', (err: Error) => {
    lastError = err;
    if (everReady) logger?.debug({ err: { message: err.message } }, 'redis store: connection error');
  });
  client.on('reconnecting', () => {
    if (!down) logger?.warn({ err: lastError ? { message: lastError.message } : undefined }, 'redis store: connection lost; reconnecting');
    down = true;
  });
  client.on('ready', () => {
    everReady = true;
    if (down) logger?.info('redis store: reconnected');
    down = false;
    lastError = undefined;
  });
  try {
    await client.connect();
  } catch (err) {
    if (client.status !== 'end') client.disconnect();
    const cause = lastError ?? err;
    throw new Error(`cannot connect to Redis store at ${redactUrl(display)}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
  return client;
}

/**
 * Throws unless the store can take writes now: connected, and talking to a primary (not a
 * replica or a sentinel), or a Cluster whose slots are all served.
 */
export async function assertWritable(client: RedisClient): Promise<void> {
  // Fail at once instead of queueing behind reconnect attempts: readiness must answer quickly.
  if (client.status !== 'ready') throw new Error(`Redis store not connected (${client.status})`);
  if (client instanceof Cluster) {
    const info = String(await client.cluster('INFO'));
    if (!/^cluster_state:ok\b/m.test(info)) throw new Error('Redis Cluster is not ok (slots not all covered)');
    return;
  }
  const role: unknown = await client.call('ROLE');
  const name = Array.isArray(role) ? String(role[0]) : String(role);
  if (name !== 'master') throw new Error(`Redis store is a ${name}, not a writable primary`);
}

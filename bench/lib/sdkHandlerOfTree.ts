import path from 'node:path';
import pino from 'pino';
import type { Logger } from 'pino';
import type { SourceSdkHandler } from '../../relay/src/engage/sourceSdkHandler';
import type { TenantConfig } from '../../relay/src/config';
import { BENCH_SECRETS } from './common';
import { benchTenant, NOWHERE } from './fixtures';

/**
 * The Source SDK handler of a checkout (`tree`: its root, or a compiled `.bench-build`), built from
 * that checkout's own `relay/src` with its own `createLogger` (`info`, into /dev/null as the bench's
 * relay target writes it) around an engine stub that answers `{id}` at once. Modules are imported
 * without an extension, so a compiled tree runs as plain JavaScript.
 */
export async function sdkHandlerOfTree(tree: string): Promise<{ handler: SourceSdkHandler; logger: Logger; tenant: TenantConfig }> {
  const src = path.resolve(tree, 'relay/src');
  const { SourceSdkHandler: Handler } = (await import(
    path.join(src, 'engage/sourceSdkHandler')
  )) as typeof import('../../relay/src/engage/sourceSdkHandler');
  const { createLogger } = (await import(path.join(src, 'log'))) as typeof import('../../relay/src/log');
  const tenant = benchTenant(NOWHERE);
  const logger = createLogger({
    level: 'info',
    secrets: Object.values(BENCH_SECRETS),
    destination: pino.destination({ dest: '/dev/null', sync: false }),
  });
  let replies = 0;
  const engine = { agentReply: () => Promise.resolve({ id: `agent-${(replies++).toString(16).padStart(24, '0')}` }) };
  const handler = new Handler({
    tenants: [tenant],
    engine: engine as unknown as ConstructorParameters<typeof Handler>[0]['engine'],
    logger,
    replayWindowMs: 300_000,
    replyRetryWindowMs: 7 * 86_400_000,
  });
  return { handler, logger, tenant };
}

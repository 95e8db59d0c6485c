#!/usr/bin/env node
import { z } from 'zod';
import { ConfigError, loadConfig, relaySettingsSchema, secretsOf } from './config';
import { createLogger } from './log';
import { createRelay } from './relay';
import { openStore } from './store/openStore';

/**
 * CLI: `relay start` (default) runs the relay; `relay doctor` checks a configuration against live
 * services; `relay dead-letters list|show|retry` inspects and retries the jobs the outbox gave up on;
 * `relay inspect <sessionId|threadId>` prints one conversation's timeline.
 */
const commandSchema = z.enum(['start', 'doctor', 'dead-letters', 'inspect']).default('start');
const SHUTDOWN_GRACE_MS = 10_000;

async function start(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger({ level: config.settings.logLevel, secrets: secretsOf(config) });
  const store = await openStore(config.settings.storeUrl, logger);
  const relay = createRelay({ config, store, logger });
  await relay.start();

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error('graceful shutdown timed out');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    relay.stop().then(
      () => {
        logger.flush();
        process.exit(0);
      },
      (err: Error) => {
        logger.error({ err: { message: err.message } }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const parsed = commandSchema.safeParse(argv[2]);
  if (!parsed.success) {
    process.stderr.write(`Unknown command "${argv[2]}". Usage: relay [start|doctor|dead-letters|inspect]\n`);
    process.exit(2);
  }
  if (parsed.data === 'doctor') {
    const { runDoctor } = await import('./doctor/runDoctor');
    process.exit(await runDoctor(loadConfig(), process.stdout));
  }
  if (parsed.data === 'dead-letters') {
    const { runDeadLetterCommand } = await import('./outbox/deadLetterCli');
    // The whole schema (its cross-field refinements forbid .pick); unset settings take their defaults.
    const settings = relaySettingsSchema.safeParse({
      ...(process.env.STORE_URL ? { storeUrl: process.env.STORE_URL } : {}),
      ...(process.env.OUTBOX_DEADLINE_MS ? { outboxDeadlineMs: process.env.OUTBOX_DEADLINE_MS } : {}),
    });
    if (!settings.success)
      throw new ConfigError(`Invalid configuration: ${settings.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; ')}`);
    const { storeUrl, outboxDeadlineMs } = settings.data;
    process.exit(await runDeadLetterCommand(argv.slice(3), { storeUrl, outboxDeadlineMs, out: process.stdout }));
  }
  if (parsed.data === 'inspect') {
    const { runInspectCommand } = await import('./store/inspectCli');
    const settings = relaySettingsSchema.safeParse(process.env.STORE_URL ? { storeUrl: process.env.STORE_URL } : {});
    if (!settings.success)
      throw new ConfigError(`Invalid configuration: ${settings.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`).join('; ')}`);
    process.exit(await runInspectCommand(argv.slice(3), { storeUrl: settings.data.storeUrl, out: process.stdout }));
  }
  await start();
}

main(process.argv).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  process.stderr.write(`relay failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});

import { z } from 'zod';
import { resolve } from 'node:path';
import { doctorCommand, writeDoctorEnvFile } from './doctorEnv';
import { startSandbox } from './startSandbox';

/** `npm run sandbox`: start everything on 127.0.0.1 and print the two pages to open. */
const portsSchema = z.object({
  SANDBOX_CHAT_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  SANDBOX_DESK_PORT: z.coerce.number().int().min(0).max(65535).default(3001),
});

async function main(): Promise<void> {
  const ports = portsSchema.safeParse(process.env);
  if (!ports.success) {
    process.stderr.write(`Invalid ${ports.error.issues[0]?.path.join('.')}: must be a port number\n`);
    process.exit(2);
  }
  const sandbox = await startSandbox({ chatPort: ports.data.SANDBOX_CHAT_PORT, deskPort: ports.data.SANDBOX_DESK_PORT });
  const envFile = resolve('./data/sandbox.env');
  writeDoctorEnvFile(sandbox.config, envFile, sandbox.relayUrl);
  process.stdout.write(
    [
      '',
      'rce-handover sandbox is running (relay + Engage Digital simulator + Cognigy simulator, all local).',
      '',
      `  Web chat (the end user):    ${sandbox.chatUrl}`,
      `  Agent desk (Engage agent):  ${sandbox.deskUrl}`,
      '',
      '  1. In the web chat, say hello, then type "agent".',
      '  2. In the agent desk, watch the queue position, take the conversation, reply.',
      '  3. Close the intervention: the bot takes over again in the chat.',
      '',
      `  Relay: ${sandbox.relayUrl} (logs in ./data/sandbox-relay.log). Ctrl+C to stop.`,
      '',
      '  Try the doctor on this setup (settings in ./data/sandbox.env), in another terminal:',
      `    ${doctorCommand(envFile)}`,
      '',
    ].join('\n'),
  );
  const stop = () => {
    sandbox.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`sandbox failed to start: ${(err as Error).message}\n`);
  process.exit(1);
});

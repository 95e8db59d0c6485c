import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SETTINGS_ENV, TENANT_ENV, type RelayConfig } from '../relay/src/config';
import { DOCTOR_PUBLIC_URL_ENV } from '../relay/src/doctor/runDoctor';

/**
 * The sandbox relay's settings as an env file, so `npm run doctor` can be tried against the
 * simulators: the tenant's variables, STORE_URL (the doctor binds no port) and the relay's URL, so
 * the doctor can tell the webhook points at it. The secrets are the sandbox's random ones, written
 * for the local user only.
 */
export function doctorEnv(config: RelayConfig, relayUrl?: string): Record<string, string> {
  const tenant = config.tenants[0];
  if (!tenant) throw new Error('the sandbox has no tenant');
  const env: Record<string, string> = {};
  for (const [name, key] of Object.entries(TENANT_ENV)) {
    const value = (tenant as Record<string, unknown>)[key];
    if (typeof value === 'string') env[name] = value;
  }
  for (const [name, key] of Object.entries(SETTINGS_ENV)) if (key === 'storeUrl') env[name] = config.settings.storeUrl;
  if (relayUrl) env[DOCTOR_PUBLIC_URL_ENV] = relayUrl;
  return env;
}

/** Values that need no quoting in a POSIX shell nor in `docker run --env-file`. */
const PLAIN = /^[A-Za-z0-9_./:@+=,-]*$/;

export function writeDoctorEnvFile(config: RelayConfig, file: string, relayUrl?: string): void {
  const lines = Object.entries(doctorEnv(config, relayUrl)).map(([name, value]) => {
    if (!PLAIN.test(value)) throw new Error(`${name} has characters an env file cannot carry unquoted`);
    return `${name}=${value}`;
  });
  writeFileSync(file, `# Written by npm run sandbox: the sandbox relay's settings, for npm run doctor.\n${lines.join('\n')}\n`, {
    mode: 0o600,
  });
  chmodSync(file, 0o600);
}

/** The command to paste (from `cwd`): a subshell, so the variables do not stay in the user's shell. */
export function doctorCommand(file: string, cwd: string = process.cwd()): string {
  const relative = path.relative(cwd, file);
  const shown = relative.startsWith('..') || path.isAbsolute(relative) ? file : `./${relative}`;
  const quoted = PLAIN.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
  return `(set -a && . ${quoted} && npm run doctor)`;
}

import os from 'node:os';
import type { RelaySettings } from '../config';

/**
 * The lease owner id of this relay: RELAY_INSTANCE_ID, else host name and port. Undefined when the
 * port is chosen by the OS (0): then no two processes could be told apart, and a random id is used.
 */
export function leaseOwnerOf(settings: Pick<RelaySettings, 'instanceId' | 'port'>): string | undefined {
  if (settings.instanceId) return `relay-${settings.instanceId}`;
  return settings.port === 0 ? undefined : `relay-${os.hostname()}:${settings.port}`;
}

import os from 'node:os';
import { ConfigError, loadConfig } from '../../relay/src/config';
import { leaseOwnerOf } from '../../relay/src/outbox/leaseOwner';
import { VALID_TENANT_ENV } from '../helpers/tenantEnv';

const env: Record<string, string> = { ...VALID_TENANT_ENV };

describe('outbox, lease and retention settings', () => {
  it('has the documented defaults', () => {
    expect(loadConfig(env).settings).toMatchObject({ outboxLeaseMs: 8_000, retentionDays: 30 });
    expect(loadConfig(env).settings.instanceId).toBeUndefined();
  });

  it('reads OUTBOX_LEASE_MS, RETENTION_DAYS and RELAY_INSTANCE_ID', () => {
    const s = loadConfig({ ...env, OUTBOX_LEASE_MS: '15000', RETENTION_DAYS: '7', RELAY_INSTANCE_ID: 'relay-a.pod-1' }).settings;
    expect(s).toMatchObject({ outboxLeaseMs: 15_000, retentionDays: 7, instanceId: 'relay-a.pod-1' });
  });

  it.each([
    ['OUTBOX_LEASE_MS', '500'],
    ['RETENTION_DAYS', '0'],
    ['RELAY_INSTANCE_ID', 'has spaces in it'],
  ])('refuses %s=%j naming the variable', (name, value) => {
    expect(() => loadConfig({ ...env, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...env, [name]: value })).toThrow(new RegExp(name));
  });

  it('derives a stable lease owner from RELAY_INSTANCE_ID, else host and port, else none (port 0)', () => {
    expect(leaseOwnerOf({ instanceId: 'a1', port: 8080 })).toBe('relay-a1');
    expect(leaseOwnerOf({ instanceId: undefined, port: 8080 })).toBe(`relay-${os.hostname()}:8080`);
    expect(leaseOwnerOf({ instanceId: undefined, port: 0 })).toBeUndefined();
  });
});

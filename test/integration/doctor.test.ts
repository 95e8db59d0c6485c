import { doctorLines } from '../../relay/src/doctor/runDoctor';
import { eventually, startJourney, type Journey } from '../helpers/journeyHarness';
import type { RelayConfig } from '../../relay/src/config';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('relay doctor against the simulators', () => {
  let journey: Journey;
  let config: RelayConfig;
  beforeAll(async () => {
    journey = await startJourney({ store: 'sqlite' });
    config = { ...journey.config, settings: { ...journey.config.settings, storeUrl: `sqlite:${join(mkdtempSync(join(tmpdir(), 'rce-doctor-')), 'd.db')}` } };
  });
  afterAll(async () => {
    await journey?.close();
  });

  const withTenant = (patch: Partial<RelayConfig['tenants'][number]>): RelayConfig => ({ ...config, tenants: [{ ...journey.tenant, ...patch }] });

  it('passes every check for a correct configuration', async () => {
    const { sourceId } = journey.tenant;
    await eventually('identities created', () => journey.relay.identities.isCreated(sourceId, 'bot') && journey.relay.identities.isCreated(sourceId, 'agent'));
    const lines = await doctorLines(config);
    expect(lines.filter((l) => !l.ok)).toEqual([]);
    expect(lines.map((l) => l.check)).toEqual(['Base API URL and API Access Token', 'Bot and Agent categories', 'Realtime Endpoint URL and Realtime Access Token', 'Bot identity', 'Agent identity', 'Cognigy API key', 'Store']);
    // The probes change nothing in Engage.
    expect(journey.engage.threads()).toEqual([]);
  });

  it('says which setting is wrong, line by line', async () => {
    const badToken = await doctorLines(withTenant({ apiAccessToken: 'not-the-token-at-all' }));
    expect(badToken[0]).toMatchObject({ ok: false, check: 'Base API URL and API Access Token' });
    expect(badToken[0]?.detail).toMatch(/API Access Token is not accepted/);

    const sameCategory = await doctorLines(withTenant({ agentCategoryId: journey.tenant.botCategoryId }));
    expect(sameCategory.find((l) => l.check === 'Bot and Agent categories')).toMatchObject({ ok: false, detail: expect.stringMatching(/same/) });

    const parentAsBot = await doctorLines(withTenant({ botCategoryId: journey.engage.categories.parentId }));
    expect(parentAsBot.find((l) => l.check === 'Bot and Agent categories')).toMatchObject({ ok: false, detail: expect.stringMatching(/sub-categories of one parent/) });

    const missingCategory = await doctorLines(withTenant({ agentCategoryId: 'ffffffffffffffffffffffff' }));
    expect(missingCategory.find((l) => l.check === 'Agent category')).toMatchObject({ ok: false });

    const badRealtime = await doctorLines(withTenant({ realtimeAccessToken: 'wrong-realtime-token' }));
    expect(badRealtime.find((l) => l.check.startsWith('Realtime'))).toMatchObject({ ok: false, detail: expect.stringMatching(/signature/) });

    const badSource = await doctorLines(withTenant({ realtimeEndpointUrl: `${journey.engage.url}/realtime/sdk/nosuchsource` }));
    expect(badSource.find((l) => l.check.startsWith('Realtime'))).toMatchObject({ ok: false, detail: expect.stringMatching(/does not know this source/) });

    // Identities are looked up by source and id: for another source id they do not exist.
    const noIdentities = await doctorLines(withTenant({ sourceId: 'othersource' }));
    expect(noIdentities.filter((l) => l.check.endsWith('identity'))).toEqual([
      { ok: false, check: 'Bot identity', detail: expect.stringMatching(/not in Engage yet/) },
      { ok: false, check: 'Agent identity', detail: expect.stringMatching(/not in Engage yet/) },
    ]);

    const badCognigy = await doctorLines(withTenant({ cognigyApiKey: 'wrong-cognigy-key' }));
    expect(badCognigy.find((l) => l.check === 'Cognigy API key')).toMatchObject({ ok: false, detail: expect.stringMatching(/refused COGNIGY_API_KEY/) });

    const badStore = await doctorLines({ ...config, settings: { ...config.settings, storeUrl: 'redis://127.0.0.1:1/0' } });
    expect(badStore.find((l) => l.check === 'Store')).toMatchObject({ ok: false });
  });
});

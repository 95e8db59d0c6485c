import { checkClock } from '../../relay/src/doctor/clockCheck';
import { doctorLines, doctorOptionsFromEnv } from '../../relay/src/doctor/runDoctor';
import { ConfigError } from '../../relay/src/config';
import { createOutboundHttp } from '../../relay/src/http/outboundHttp';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import type { RelayConfig } from '../../relay/src/config';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('relay doctor against the simulators', () => {
  let journey: RelayRig;
  let config: RelayConfig;
  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite' });
    config = {
      ...journey.config,
      settings: { ...journey.config.settings, storeUrl: `sqlite:${join(mkdtempSync(join(tmpdir(), 'rce-doctor-')), 'd.db')}` },
    };
  });
  afterAll(async () => {
    await journey?.close();
  });

  const withTenant = (patch: Partial<RelayConfig['tenants'][number]>): RelayConfig => ({
    ...config,
    tenants: [{ ...journey.tenant, ...patch }],
  });

  it('passes every check for a correct configuration', async () => {
    const { sourceId } = journey.tenant;
    await waitUntil(
      'identities created',
      () => journey.relay.identities.isCreated(sourceId, 'bot') && journey.relay.identities.isCreated(sourceId, 'agent'),
    );
    const lines = await doctorLines(config, { publicUrl: journey.relayUrl });
    expect(lines.filter((l) => !l.ok)).toEqual([]);
    expect(lines.map((l) => l.check)).toEqual([
      'Base API URL and API Access Token',
      'Bot and Agent categories',
      'Realtime Endpoint URL and Realtime Access Token',
      'Clock',
      'Bot identity',
      'Agent identity',
      'Webhook',
      'Webhook secret',
      'Cognigy API key',
      'Store',
    ]);
    // Found through Engage's REST API (GET /1.0/webhooks): the one the harness registered.
    expect(lines.find((l) => l.check === 'Webhook')).toEqual({
      ok: true,
      check: 'Webhook',
      detail: `${journey.relayUrl}/handover/rce is active, with the relay's Verification Token and intervention.closed`,
    });
    // The API does not show the Secret: said, not passed silently.
    expect(lines.find((l) => l.check === 'Webhook secret')).toMatchObject({
      ok: true,
      advisory: true,
      detail: expect.stringMatching(/^cannot check/),
    });
    // The probes change nothing in Engage.
    expect(journey.engage.threads()).toEqual([]);
  });

  it('says which setting is wrong, line by line', async () => {
    const badToken = await doctorLines(withTenant({ apiAccessToken: 'not-the-token-at-all' }));
    expect(badToken[0]).toMatchObject({ ok: false, check: 'Base API URL and API Access Token' });
    expect(badToken[0]?.detail).toMatch(/API Access Token is not accepted/);

    const sameCategory = await doctorLines(withTenant({ agentCategoryId: journey.tenant.botCategoryId }));
    expect(sameCategory.find((l) => l.check === 'Bot and Agent categories')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/same/),
    });

    const parentAsBot = await doctorLines(withTenant({ botCategoryId: journey.engage.categories.parentId }));
    expect(parentAsBot.find((l) => l.check === 'Bot and Agent categories')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/sub-categories of one parent/),
    });

    const missingCategory = await doctorLines(withTenant({ agentCategoryId: 'ffffffffffffffffffffffff' }));
    expect(missingCategory.find((l) => l.check === 'Agent category')).toMatchObject({ ok: false });

    const badRealtime = await doctorLines(withTenant({ realtimeAccessToken: 'wrong-realtime-token' }));
    expect(badRealtime.find((l) => l.check.startsWith('Realtime'))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/signature/),
    });

    const badSource = await doctorLines(withTenant({ realtimeEndpointUrl: `${journey.engage.url}/realtime/sdk/nosuchsource` }));
    expect(badSource.find((l) => l.check.startsWith('Realtime'))).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/does not know this source/),
    });

    // Identities are looked up by source and id: for another source id they do not exist.
    const noIdentities = await doctorLines(withTenant({ sourceId: 'othersource' }));
    expect(noIdentities.filter((l) => l.check.endsWith('identity'))).toEqual([
      { ok: false, check: 'Bot identity', detail: expect.stringMatching(/not in Engage yet/) },
      { ok: false, check: 'Agent identity', detail: expect.stringMatching(/not in Engage yet/) },
    ]);

    const badCognigy = await doctorLines(withTenant({ cognigyApiKey: 'wrong-cognigy-key' }));
    expect(badCognigy.find((l) => l.check === 'Cognigy API key')).toMatchObject({
      ok: false,
      detail: expect.stringMatching(/refused COGNIGY_API_KEY/),
    });

    const badStore = await doctorLines({ ...config, settings: { ...config.settings, storeUrl: 'redis://127.0.0.1:1/0' } });
    expect(badStore.find((l) => l.check === 'Store')).toMatchObject({ ok: false });
  });

  it("compares this host's clock with Engage's Date header", async () => {
    const outbound = createOutboundHttp({ timeoutMs: 5000 });
    try {
      const at = (offsetMs: number) => checkClock(outbound.client, journey.tenant, config.settings, () => Date.now() + offsetMs);
      expect(await at(0)).toEqual({ ok: true, check: 'Clock', detail: "within a few seconds of Engage's" });
      // Ahead by more than half of REPLAY_WINDOW_MS (5 min): Engage's calls would be refused.
      expect(await at(200_000)).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/^this host's clock is about (?:19\d|200) s ahead of Engage's.*run NTP/),
      });
      expect(await at(-200_000)).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/^this host's clock is about (?:19\d|200) s behind Engage's/),
      });
      expect(await at(20_000)).toMatchObject({ ok: true, advisory: true, detail: expect.stringMatching(/is NTP running/) });
    } finally {
      outbound.close();
    }
  });

  it('reads RELAY_PUBLIC_URL, refusing a malformed one like any setting', () => {
    expect(doctorOptionsFromEnv({ RELAY_PUBLIC_URL: 'https://relay.example.com' })).toEqual({ publicUrl: 'https://relay.example.com' });
    expect(doctorOptionsFromEnv({ RELAY_PUBLIC_URL: ' ' })).toEqual({});
    expect(doctorOptionsFromEnv({})).toEqual({});
    expect(() => doctorOptionsFromEnv({ RELAY_PUBLIC_URL: 'relay.example.com/handover' })).toThrow(ConfigError);
    expect(() => doctorOptionsFromEnv({ RELAY_PUBLIC_URL: 'ftp://relay.example.com' })).toThrow(
      /^RELAY_PUBLIC_URL is malformed: not an http\(s\) URL\. Example: RELAY_PUBLIC_URL=https:\/\/relay\.example\.com$/,
    );
  });

  describe('the webhook, through Engage REST GET /1.0/webhooks', () => {
    const webhookLines = async (cfg: RelayConfig, publicUrl?: string) =>
      (await doctorLines(cfg, publicUrl ? { publicUrl } : {})).filter(
        (l) => l.check.includes('Webhook') && !l.check.endsWith('Webhook secret'),
      );

    it('finds it at the relay URL Engage uses, and says when it points elsewhere', async () => {
      expect(await webhookLines(config, `${journey.relayUrl}/`)).toEqual([
        { ok: true, check: 'Webhook', detail: expect.stringMatching(/is active/) },
      ]);
      // Without RELAY_PUBLIC_URL any host with the relay's path counts.
      expect(await webhookLines(config)).toEqual([{ ok: true, check: 'Webhook', detail: expect.stringMatching(/is active/) }]);
      const elsewhere = await webhookLines(config, 'https://relay.example.com');
      expect(elsewhere).toEqual([
        {
          ok: false,
          check: 'Webhook',
          detail: expect.stringMatching(
            /no webhook of this API token points at https:\/\/relay\.example\.com\/handover\/rce .*point elsewhere: http:\/\/127\.0\.0\.1/,
          ),
        },
      ]);
      // Another token (another Engage account) sees none of them: the REST API refuses it, doctor cannot check.
      const otherToken = await doctorLines(withTenant({ apiAccessToken: 'not-the-token-at-all' }));
      expect(otherToken.find((l) => l.check === 'Webhook')).toMatchObject({
        ok: true,
        advisory: true,
        detail: expect.stringMatching(/^cannot check: GET \/webhooks answered HTTP 401/),
      });
    });

    it("a Verification Token other than the relay's", async () => {
      const lines = await webhookLines(withTenant({ verifyToken: 'another-token' }), journey.relayUrl);
      expect(lines).toEqual([
        { ok: false, check: 'Webhook', detail: expect.stringMatching(/Verification Token differs from the relay's RCE_VERIFY_TOKEN/) },
      ]);
      expect(JSON.stringify(lines)).not.toContain(journey.tenant.verifyToken);
    });

    it('several sources: the URL must name the source', async () => {
      const second = { ...journey.tenant, sourceId: 'secondsource' };
      const lines = await webhookLines({ ...config, tenants: [journey.tenant, second] }, journey.relayUrl);
      expect(lines.find((l) => l.check === `[${journey.tenant.sourceId}] Webhook`)).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/does not name the source: this relay serves several sources/),
      });
    });

    it('a webhook without intervention.closed, and one whose verification failed (inactive)', async () => {
      const { sourceId } = journey.tenant;
      // Verification passes (right token, known source) but the handover could never end.
      const noClose = await journey.engage.registerWebhook({
        url: `${journey.relayUrl}/handover/rce/${sourceId}`,
        secret: 'another-webhook-secret',
        verifyToken: journey.tenant.verifyToken,
        events: ['task.taken', 'content.imported'],
      });
      expect(noClose.enabled).toBe(true);
      // The relay refuses the verification (wrong token): Engage keeps the webhook, disabled.
      const refused = await journey.engage.registerWebhook({
        url: `${journey.relayUrl}/handover/rce/${sourceId}/`,
        verifyToken: 'not-the-relay-token',
        events: ['intervention.closed', 'intervention.canceled', 'task.taken'],
      });
      expect(refused.enabled).toBe(false);

      const lines = await webhookLines(config, journey.relayUrl);
      expect(lines.find((l) => l.check === 'Webhook' && l.advisory)).toMatchObject({
        ok: true,
        detail: expect.stringMatching(/^3 webhooks point at the relay/),
      });
      expect(lines.find((l) => l.check === `Webhook ${noClose.id}`)).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/does not subscribe to intervention\.closed: a handover never ends/),
      });
      expect(lines.find((l) => l.check === `Webhook ${noClose.id} subscriptions`)).toMatchObject({
        ok: true,
        advisory: true,
        detail: expect.stringMatching(/intervention\.canceled too.*the relay ignores content\.imported/),
      });
      expect(lines.find((l) => l.check === `Webhook ${refused.id}`)).toMatchObject({
        ok: false,
        detail: expect.stringMatching(/not active.*Verification Token differs/),
      });
    });
  });
});

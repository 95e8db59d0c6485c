import { TenantIdentities, tenantIdentityUsers } from '../../relay/src/engage/tenantIdentities';
import { createOutboundHttp } from '../../relay/src/http/outboundHttp';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';

/** Seed step 7: Bot and Agent identities, created per tenant beside the handovers and retried until Engage takes them. */
describe('tenant identities', () => {
  let journey: RelayRig;
  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite' });
    // The relay's own creation at start first (it may retry until the harness has saved the source).
    const { sourceId } = journey.tenant;
    await waitUntil(
      'relay created its identities',
      () => journey.relay.identities.isCreated(sourceId, 'bot') && journey.relay.identities.isCreated(sourceId, 'agent'),
    );
  });

  /** A logger that also keeps the "will retry" lines, one per refused attempt. */
  const retryRecorder = () => {
    const retries: string[] = [];
    const logger = journey.logger.child({});
    const warn = logger.warn.bind(logger);
    logger.warn = ((obj: object, msg?: string) => {
      if (msg === 'Engage identity not created yet; will retry') retries.push(JSON.stringify(obj));
      warn(obj, msg);
    }) as typeof logger.warn;
    return { logger, retries };
  };
  afterAll(async () => {
    await journey?.close();
  });

  it('retries a refused users.create in the background until Engage accepts both identities', async () => {
    const outbound = createOutboundHttp({ timeoutMs: 2_000 });
    const { logger, retries } = retryRecorder();
    // Engage refuses the next three Send API calls (as before the source is saved: 422 Invalid action).
    journey.engage.failNext({ api: 'send', status: 422, count: 3 });
    const identities = new TenantIdentities({
      tenants: [journey.tenant],
      postText: outbound.postText,
      logger,
      retry: { baseMs: 20, capMs: 80 },
    });
    try {
      identities.start();
      await waitUntil(
        'both identities accepted',
        () => identities.isCreated(journey.tenant.sourceId, 'bot') && identities.isCreated(journey.tenant.sourceId, 'agent'),
      );
      expect(retries).toHaveLength(3);
      expect(retries[0]).toMatch(/HTTP 422/);
      const users = tenantIdentityUsers(journey.tenant.sourceId);
      expect(
        journey.engage
          .users()
          .filter((u) => u.foreign_id === users.bot.id || u.foreign_id === users.agent.id)
          .map((u) => [u.screenname, u.puppetizable])
          .sort(),
      ).toEqual([
        ['Agent', true],
        ['Bot', true],
      ]);
    } finally {
      identities.stop();
      outbound.close();
    }
  });

  it('tries again soon when Engage asks for implementation.info (the admin saved the source) instead of waiting out the backoff', async () => {
    const outbound = createOutboundHttp({ timeoutMs: 2_000 });
    journey.engage.failNext({ api: 'send', status: 422, count: 1000 });
    const { logger, retries } = retryRecorder();
    const identities = new TenantIdentities({
      tenants: [journey.tenant],
      postText: outbound.postText,
      logger,
      retry: { baseMs: 50, capMs: 60_000 },
    });
    try {
      identities.start();
      // Six refusals per identity (50 … 1600 ms): the next tries are 1.6 s away.
      await waitUntil('backoff grown', () => retries.length >= 12);
      expect(retries.slice(-2).map((r) => (JSON.parse(r) as { retryInMs: number }).retryInMs)).toEqual([1600, 1600]);
      journey.engage.clearFaults();
      const savedAt = Date.now();
      identities.sourceSaved(journey.tenant.sourceId);
      await waitUntil(
        'both created',
        () => identities.isCreated(journey.tenant.sourceId, 'bot') && identities.isCreated(journey.tenant.sourceId, 'agent'),
      );
      // Well before the 1.6 s the backoff would have waited (the kicked try runs after 50 ms).
      expect(Date.now() - savedAt).toBeLessThan(1_400);
    } finally {
      journey.engage.clearFaults();
      identities.stop();
      outbound.close();
    }
  });

  it('stops retrying when the relay stops', async () => {
    const outbound = createOutboundHttp({ timeoutMs: 2_000 });
    journey.engage.failNext({ api: 'send', status: 503, count: 1000 });
    const { logger, retries } = retryRecorder();
    const identities = new TenantIdentities({
      tenants: [journey.tenant],
      postText: outbound.postText,
      logger,
      retry: { baseMs: 10, capMs: 20 },
    });
    try {
      identities.start();
      await waitUntil('a few retries', () => retries.length >= 4);
      identities.stop();
      await new Promise((r) => setTimeout(r, 60));
      const attemptsAtStop = retries.length;
      await new Promise((r) => setTimeout(r, 100));
      expect(retries.length).toBe(attemptsAtStop);
      expect(identities.isCreated(journey.tenant.sourceId, 'bot')).toBe(false);
    } finally {
      journey.engage.clearFaults();
      outbound.close();
    }
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { CognigySession } from '../../contract/relayApi';
import { threadIdFor } from '../../relay/src/handover/identity';
import { routeOf } from '../../relay/src/metrics/httpRequests';
import { RelayMetrics } from '../../relay/src/metrics/relayMetrics';
import { DeliveryError } from '../../relay/src/outbox/deliveryError';
import type { OutboxJob } from '../../relay/src/store/types';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/** Prometheus text → `name{labels}` → value (labels as printed by prom-client, sorted by name). */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

function job(kind: OutboxJob['kind'], createdAt: number): OutboxJob {
  return {
    id: 'j1',
    tenantId: 't1',
    threadId: 'th',
    lane: 't1/th/engage',
    kind,
    payload: {},
    deadlineAt: createdAt + 60_000,
    seq: 1,
    attempts: 0,
    nextAttemptAt: createdAt,
    createdAt,
    lastError: null,
  };
}

describe('relay metrics (prom-client)', () => {
  it('times deliveries per direction from the job creation, and only successful ones', async () => {
    let now = 10_000;
    const metrics = new RelayMetrics({
      outboxCounts: () => ({ delivered: 2, retried: 1, gaveUp: 0 }),
      outboxStats: async () => ({ pending: 4, deadLettered: 1 }),
      tenantIds: ['t1'],
      engageRestPerMinute: 450,
      clock: () => now,
    });
    const execute = metrics.timeDeliveries(async (j) => {
      now += 1_500; // the call took 1.5 s
      if (j.id === 'fails') throw new DeliveryError('boom', true);
    });
    await execute(job('cognigy.notify', 9_700));
    await expect(execute({ ...job('engage.send', 9_000), id: 'fails' })).rejects.toThrow('boom');

    const samples = parseExposition(await metrics.render());
    expect(samples.get('rce_outbox_delivery_seconds_count{direction="cognigy"}')).toBe(1);
    expect(samples.get('rce_outbox_delivery_seconds_sum{direction="cognigy"}')).toBeCloseTo(1.8);
    expect(samples.get('rce_outbox_delivery_seconds_bucket{le="1",direction="cognigy"}')).toBe(0);
    expect(samples.get('rce_outbox_delivery_seconds_bucket{le="2.5",direction="cognigy"}')).toBe(1);
    expect(samples.get('rce_outbox_delivery_seconds_count{direction="engage"}')).toBe(0);
    // The outbox metrics keep the names they had before prom-client.
    expect(samples.get('rce_outbox_delivered_total')).toBe(2);
    expect(samples.get('rce_outbox_retries_total')).toBe(1);
    expect(samples.get('rce_outbox_abandoned_total')).toBe(0);
    expect(samples.get('rce_outbox_pending')).toBe(4);
    expect(samples.get('rce_outbox_dead_letters')).toBe(1);
  });

  it('counts Engage REST calls per tenant and the ones the local limit held back; the store down reads -1', async () => {
    const metrics = new RelayMetrics({
      outboxCounts: () => ({ delivered: 0, retried: 0, gaveUp: 0 }),
      outboxStats: () => Promise.reject(new Error('down')),
      tenantIds: ['t1', 't2'],
      engageRestPerMinute: 450,
    });
    let allowed = 2;
    const gate = metrics.countRestCalls({
      take: () => {
        if (allowed-- <= 0) throw new DeliveryError('Engage REST rate limit reached locally', true, 1_000);
      },
    });
    gate.take('t1');
    gate.take('t1');
    expect(() => gate.take('t1')).toThrow(DeliveryError);
    const samples = parseExposition(await metrics.render());
    expect(samples.get('rce_engage_rest_calls_total{tenant="t1"}')).toBe(2);
    expect(samples.get('rce_engage_rest_deferred_total{tenant="t1"}')).toBe(1);
    expect(samples.get('rce_engage_rest_calls_total{tenant="t2"}')).toBe(0);
    expect(samples.get('rce_engage_rest_budget_per_minute{tenant="t2"}')).toBe(450);
    expect(samples.get('rce_outbox_pending')).toBe(-1);
  });

  it('counts the same through a gate that answers asynchronously (the budget shared on Redis)', async () => {
    const metrics = new RelayMetrics({
      outboxCounts: () => ({ delivered: 0, retried: 0, gaveUp: 0 }),
      outboxStats: async () => ({ pending: 0, deadLettered: 0 }),
      tenantIds: ['t1'],
      engageRestPerMinute: 225,
    });
    let allowed = 1;
    const gate = metrics.countRestCalls({
      take: async () => {
        await Promise.resolve();
        if (allowed-- <= 0) throw new DeliveryError('Engage REST budget shared on Redis spent', true, 500);
      },
    });
    await gate.take('t1');
    await expect(gate.take('t1')).rejects.toThrow(DeliveryError);
    // Another failure (the store down) is not a deferral.
    const broken = metrics.countRestCalls({ take: () => Promise.reject(new Error('store down')) });
    await expect(broken.take('t1')).rejects.toThrow('store down');
    const samples = parseExposition(await metrics.render());
    expect(samples.get('rce_engage_rest_calls_total{tenant="t1"}')).toBe(1);
    expect(samples.get('rce_engage_rest_deferred_total{tenant="t1"}')).toBe(1);
  });

  it('labels Express routes from a fixed set, never the raw path', () => {
    expect(routeOf('GET', '/readyz')).toBe('readyz');
    expect(routeOf('GET', '/handover/rce/src1')).toBe('webhook_verify');
    expect(routeOf('POST', '/handover/rce')).toBe('engage');
    expect(routeOf('POST', '/api/v1/startHandover')).toBe('extension_api');
    expect(routeOf('GET', '/wp-admin/../etc/passwd')).toBe('other');
  });
});

describe('GET /metrics on a running relay after a handover', () => {
  let journey: RelayRig;
  const session: CognigySession = { URLToken: 'endpoint-token-m', userId: 'user-m', sessionId: 'session-m' };
  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite' });
  });
  afterAll(async () => {
    await journey?.close();
  });

  it('serves process, HTTP, outbox, latency and REST budget metrics in the Prometheus text format', async () => {
    const scrape = async () => {
      const response = await fetch(`${journey.adminUrl}/metrics`);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const text = await response.text();
      return { text, samples: parseExposition(text) };
    };
    const before = (await scrape()).samples;
    const count = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;

    const start = await signedRelayCall(journey.relayUrl, journey.tenant, 'startHandover', {
      ...envelopeFor(journey.tenant, session, 'req-metrics-1'),
      firstMessage: 'Metrics, please.',
    });
    expect(start.status).toBe(200);
    await journey.waitForAgentCategory(threadIdFor(journey.tenant.sourceId, session));
    const tenant = journey.tenant.sourceId;
    await waitUntil(
      'categorize job counted as delivered',
      async () => count((await scrape()).samples, 'rce_outbox_delivery_seconds_count{direction="engage"}') >= 2,
    );

    const { text, samples } = await scrape();
    // Default process and GC metrics, event-loop lag.
    for (const name of [
      'process_cpu_user_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_size_used_bytes',
    ])
      expect(samples.has(name)).toBe(true);
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
    // HTTP by route and status (process-wide counts: compare with the scrape before).
    expect(
      count(samples, 'rce_http_requests_total{route="extension_api",status="200"}') -
        count(before, 'rce_http_requests_total{route="extension_api",status="200"}'),
    ).toBe(1);
    expect(count(samples, 'rce_http_requests_total{route="metrics",status="200"}')).toBeGreaterThan(
      count(before, 'rce_http_requests_total{route="metrics",status="200"}'),
    );
    // Engage's Source SDK calls to the relay (implementation.info when the source was saved, then the thread import).
    expect(count(samples, 'rce_http_requests_total{route="engage",status="200"}')).toBeGreaterThan(0);
    // Outbox: the message and the categorisation were delivered, timed from acceptance.
    expect(samples.get('rce_outbox_delivered_total')).toBeGreaterThanOrEqual(2);
    expect(samples.get('rce_outbox_pending')).toBeGreaterThanOrEqual(0);
    expect(count(samples, 'rce_outbox_delivery_seconds_bucket{le="900",direction="engage"}')).toBe(
      count(samples, 'rce_outbox_delivery_seconds_count{direction="engage"}'),
    );
    // Categorising looks the thread up and updates it through Engage REST, within the tenant's budget.
    expect(count(samples, `rce_engage_rest_calls_total{tenant="${tenant}"}`)).toBeGreaterThanOrEqual(2);
    expect(samples.get(`rce_engage_rest_budget_per_minute{tenant="${tenant}"}`)).toBe(journey.config.settings.engageRestPerMinute);

    // Every metric the alert rules use is one the relay serves.
    const served = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\w+)$/gm)].flatMap(([, name = '', type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
      ),
    );
    const rules = readFileSync(path.resolve(__dirname, '../../deploy/prometheus-rules.yml'), 'utf8');
    const used = new Set([...rules.matchAll(/\b((?:rce|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1] ?? ''));
    expect(used.size).toBeGreaterThan(5);
    expect([...used].filter((name) => !served.has(name))).toEqual([]);

    // Served on the admin listener only, never on the internet-facing port.
    expect((await fetch(`${journey.relayUrl}/metrics`)).status).toBe(404);
    const unknown = await fetch(`${journey.relayUrl}/no/such/route`);
    expect(unknown.status).toBe(404);
    const after = (await scrape()).samples;
    expect(
      count(after, 'rce_http_requests_total{route="other",status="404"}') -
        count(samples, 'rce_http_requests_total{route="other",status="404"}'),
    ).toBe(1);
  });
});

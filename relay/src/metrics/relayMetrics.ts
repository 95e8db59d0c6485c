import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RestRateGate } from '../engage/restClient';
import { DeliveryError } from '../outbox/deliveryError';
import type { JobExecutor, OutboxMetrics } from '../outbox/worker';
import type { OutboxJob } from '../store/types';
import { registerHttpRequestMetrics } from './httpRequests';

/**
 * The relay's /metrics (Prometheus text, prom-client): default process, GC and event-loop
 * metrics, HTTP requests by route and status, the outbox, acceptance-to-delivery latency and
 * Engage REST budget use per tenant. Names are the contract with dashboards and the README's
 * alert rules: rename nothing.
 */

export interface RelayMetricsOptions {
  /** The worker's running counts (read at scrape time). */
  outboxCounts: () => OutboxMetrics;
  /** Pending and dead-lettered jobs in the shared store; null when the store is unreachable. */
  outboxStats: () => Promise<{ pending: number; deadLettered: number } | null>;
  tenantIds: readonly string[];
  engageRestPerMinute: number;
  clock?: () => number;
}

/** Default metrics and HTTP counts describe the process: registered once, shared by every relay in it. */
let processRegistry: Registry | null = null;
function sharedProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
    registerHttpRequestMetrics(processRegistry);
  }
  return processRegistry;
}

/** Seconds: from ms-fast local deliveries to the 15-minute outbox deadline. */
const DELIVERY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

export type DeliveryDirection = 'engage' | 'cognigy';
export function directionOf(job: Pick<OutboxJob, 'kind'>): DeliveryDirection {
  return job.kind.startsWith('cognigy.') ? 'cognigy' : 'engage';
}

export class RelayMetrics {
  private readonly registry: Registry;
  private readonly clock: () => number;
  private readonly deliverySeconds: Record<DeliveryDirection, { observe(seconds: number): void }>;
  /** Per tenant: REST calls made and calls held back by the local limit (read at scrape time). */
  private readonly restUse = new Map<string, { calls: number; deferred: number }>();
  private readonly readOutboxStats: RelayMetricsOptions['outboxStats'];
  private outboxStats: { pending: number; deadLettered: number } | null = null;

  constructor(options: RelayMetricsOptions) {
    this.clock = options.clock ?? Date.now;
    this.readOutboxStats = options.outboxStats;
    const own = new Registry();
    const counter = (name: string, help: string, value: (m: OutboxMetrics) => number) =>
      new Counter({
        name,
        help,
        registers: [own],
        collect() {
          this.reset();
          this.inc(value(options.outboxCounts()));
        },
      });
    counter('rce_outbox_delivered_total', 'Outbox jobs delivered by this relay.', (m) => m.delivered);
    counter('rce_outbox_retries_total', 'Failed attempts that were rescheduled.', (m) => m.retried);
    counter('rce_outbox_abandoned_total', 'Jobs given up (deadline or permanent error).', (m) => m.gaveUp);

    // Read from the store once per scrape (render), for both gauges.
    const stats = () => this.outboxStats;
    new Gauge({
      name: 'rce_outbox_pending',
      help: 'Jobs waiting in the shared store (-1: store unreachable).',
      registers: [own],
      collect() {
        this.set(stats()?.pending ?? -1);
      },
    });
    new Gauge({
      name: 'rce_outbox_dead_letters',
      help: 'Jobs in the dead-letter list (-1: store unreachable).',
      registers: [own],
      collect() {
        this.set(stats()?.deadLettered ?? -1);
      },
    });

    const delivery = new Histogram({
      name: 'rce_outbox_delivery_seconds',
      help: 'From the job written to the outbox (request accepted) to its successful delivery, retries included, by direction.',
      labelNames: ['direction'] as const,
      buckets: DELIVERY_BUCKETS,
      registers: [own],
    });
    // Both series exist from the start (zero), so rate() and alerts see them before the first delivery.
    delivery.zero({ direction: 'engage' });
    delivery.zero({ direction: 'cognigy' });
    this.deliverySeconds = { engage: delivery.labels('engage'), cognigy: delivery.labels('cognigy') };

    for (const tenant of options.tenantIds) this.restUse.set(tenant, { calls: 0, deferred: 0 });
    const restUse = this.restUse;
    new Counter({
      name: 'rce_engage_rest_calls_total',
      help: 'Engage REST calls made, per tenant (Engage allows 500 per minute per token).',
      labelNames: ['tenant'] as const,
      registers: [own],
      collect() {
        this.reset();
        for (const [tenant, use] of restUse) this.inc({ tenant }, use.calls);
      },
    });
    new Counter({
      name: 'rce_engage_rest_deferred_total',
      help: 'Engage REST calls held back by the local per-minute limit (the job retries later), per tenant.',
      labelNames: ['tenant'] as const,
      registers: [own],
      collect() {
        this.reset();
        for (const [tenant, use] of restUse) this.inc({ tenant }, use.deferred);
      },
    });
    const budget = new Gauge({
      name: 'rce_engage_rest_budget_per_minute',
      help: 'Engage REST calls allowed per tenant in any 60 s window (ENGAGE_REST_PER_MINUTE).',
      labelNames: ['tenant'] as const,
      registers: [own],
    });
    for (const tenant of options.tenantIds) budget.set({ tenant }, options.engageRestPerMinute);

    this.registry = Registry.merge([sharedProcessRegistry(), own]);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async render(): Promise<string> {
    this.outboxStats = await this.readOutboxStats().catch(() => null);
    return this.registry.metrics();
  }

  /** Times each successful delivery from the job's creation (wraps the outbox executor). */
  timeDeliveries(execute: JobExecutor): JobExecutor {
    return async (job) => {
      await execute(job);
      this.deliverySeconds[directionOf(job)].observe(Math.max(0, this.clock() - job.createdAt) / 1000);
    };
  }

  /** Counts Engage REST calls per tenant, and the ones the local limit held back (wraps the gate). */
  countRestCalls(gate: RestRateGate): RestRateGate {
    return {
      take: (tenantId) => {
        let use = this.restUse.get(tenantId);
        if (!use) {
          use = { calls: 0, deferred: 0 };
          this.restUse.set(tenantId, use);
        }
        const counted = use;
        const deferred = (err: unknown): never => {
          if (err instanceof DeliveryError) counted.deferred += 1;
          throw err;
        };
        let taken: void | Promise<void>;
        try {
          taken = gate.take(tenantId);
        } catch (err) {
          return deferred(err);
        }
        // The shared (Redis) budget answers asynchronously; the in-process one synchronously.
        if (taken instanceof Promise) {
          return taken.then(() => {
            counted.calls += 1;
          }, deferred);
        }
        counted.calls += 1;
      },
    };
  }
}

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { OutboundHttp } from './httpClient';
import { webhookRegistrationSchema, type WebhookEvent, type WebhookPayload, type WebhookRegistration } from './objects';
import { newObjectId, snapshot, type Scheduler } from './util';

/**
 * Engage webhooks (engage-rest-webhooks.md §1): PubSubHubbub-style GET handshake, unsigned JSON
 * POSTs carrying the Secret verbatim in `X-Dimelo-Secret`, several events per POST, at-least-once
 * with retries on anything but HTTP 200, no ordering guarantee.
 */

export const DIMELO_SECRET_HEADER = 'X-Dimelo-Secret';

export interface WebhookSubscription extends WebhookRegistration {
  id: string;
  enabled: boolean;
  /** Why the handshake failed (the webhook stays saved but disabled, as in Engage). */
  reason?: string;
}

export interface RegisterResult {
  id: string;
  enabled: boolean;
  reason?: string;
}

export interface DeliveryLogEntry {
  at: string;
  webhookId: string;
  url: string;
  /** The POST's top-level `id`; identical bytes on retries and duplicates. */
  requestId: string;
  attempt: number;
  eventIds: string[];
  eventTypes: string[];
  status: number | null;
  ok: boolean;
  error: string | null;
  /** True for the extra copy sent by duplicateNextDelivery(). */
  duplicate: boolean;
  /** True when this was the last attempt and it failed. */
  abandoned: boolean;
}

export interface WebhookDispatcherOptions {
  domainId: string;
  http: OutboundHttp;
  scheduler: Scheduler;
  clock: () => Date;
  retryDelaysMs: number[];
  batchWindowMs: number;
  timeoutMs: number;
  logger: Logger;
  onChange: () => void;
}

interface Batch {
  subscription: WebhookSubscription;
  body: Buffer;
  payload: WebhookPayload;
}

export class WebhookDispatcher {
  private readonly subscriptions = new Map<string, WebhookSubscription>();
  private readonly pending = new Map<string, WebhookEvent[]>();
  private readonly log: DeliveryLogEntry[] = [];
  private duplicateNext = false;
  private shuffleNext = false;

  constructor(private readonly options: WebhookDispatcherOptions) {}

  get deliveryLog(): DeliveryLogEntry[] {
    return snapshot(this.log);
  }

  webhooks(): WebhookSubscription[] {
    return snapshot([...this.subscriptions.values()]);
  }

  /** Saves the webhook and runs the verification handshake; enabled only on 200 + exact challenge. */
  async register(input: WebhookRegistration): Promise<RegisterResult> {
    const registration = webhookRegistrationSchema.parse(input);
    const subscription: WebhookSubscription = { ...registration, id: newObjectId(), enabled: false };
    this.subscriptions.set(subscription.id, subscription);
    return this.verify(subscription.id);
  }

  /** Re-runs the handshake (Engage does it on enable and on Secret change). */
  async verify(webhookId: string): Promise<RegisterResult> {
    const subscription = this.subscriptions.get(webhookId);
    if (!subscription) throw new Error(`unknown webhook ${webhookId}`);
    const challenge = randomBytes(16).toString('hex');
    const url = new URL(subscription.url);
    url.searchParams.set('hub.mode', 'subscribe');
    url.searchParams.set('hub.challenge', challenge);
    url.searchParams.set('hub.verify_token', subscription.verifyToken);
    let reason: string | undefined;
    try {
      const response = await this.options.http.request({
        method: 'GET',
        url: url.toString(),
        headers: this.headers(subscription),
        timeoutMs: this.options.timeoutMs,
      });
      const body = response.body.toString('utf8');
      if (response.status !== 200) reason = `handshake answered HTTP ${response.status}`;
      else if (body !== challenge) reason = 'handshake body is not exactly the hub.challenge value';
    } catch (err) {
      reason = `handshake failed: ${(err as Error).message}`;
    }
    subscription.enabled = reason === undefined;
    if (reason === undefined) delete subscription.reason;
    else subscription.reason = reason;
    this.options.onChange();
    return reason === undefined ? { id: subscription.id, enabled: true } : { id: subscription.id, enabled: false, reason };
  }

  /** Queues one event for every enabled webhook that subscribes to its type and source. */
  issue(event: WebhookEvent): void {
    for (const subscription of this.subscriptions.values()) {
      if (!subscription.enabled || !subscription.events.includes(event.type)) continue;
      const sourceId = event.resource.metadata['source_id'];
      if (subscription.sourceIds && !(typeof sourceId === 'string' && subscription.sourceIds.includes(sourceId))) continue;
      const queued = this.pending.get(subscription.id);
      if (queued) {
        queued.push(event);
        continue;
      }
      this.pending.set(subscription.id, [event]);
      this.options.scheduler.after(this.options.batchWindowMs, () => this.sendPending(subscription.id));
    }
  }

  /** Next batch is POSTed twice (same bytes): exercises the receiver's event-id dedupe. */
  duplicateNextDelivery(): void {
    this.duplicateNext = true;
  }

  /** Next batch (≥ 2 events) lists its events in a different order than issued. */
  shuffleNextBatch(): void {
    this.shuffleNext = true;
  }

  /** Sends waiting batches now instead of at the end of their window. */
  flushPending(): void {
    for (const webhookId of [...this.pending.keys()]) this.sendPending(webhookId);
  }

  get hasPendingBatches(): boolean {
    return this.pending.size > 0;
  }

  private sendPending(webhookId: string): void {
    const events = this.pending.get(webhookId);
    const subscription = this.subscriptions.get(webhookId);
    this.pending.delete(webhookId);
    if (!events || !subscription) return;
    const ordered = this.shuffleNext && events.length > 1 ? shuffled(events) : events;
    if (events.length > 1) this.shuffleNext = false;
    const payload: WebhookPayload = { id: newObjectId(), domain_id: this.options.domainId, events: ordered };
    const batch: Batch = { subscription, payload, body: Buffer.from(JSON.stringify(payload), 'utf8') };
    void this.attempt(batch, 0);
  }

  private async attempt(batch: Batch, attempt: number): Promise<void> {
    if (this.options.scheduler.isStopped) return;
    const ok = await this.post(batch, attempt, false);
    if (ok && this.duplicateNext) {
      this.duplicateNext = false;
      await this.post(batch, attempt, true);
    }
    if (ok) return;
    const delay = this.options.retryDelaysMs[attempt];
    if (delay === undefined) {
      const last = this.log.at(-1);
      if (last && last.requestId === batch.payload.id) last.abandoned = true;
      this.options.logger.warn({ requestId: batch.payload.id }, 'webhook delivery abandoned after retries');
      return;
    }
    this.options.scheduler.after(delay, () => void this.attempt(batch, attempt + 1));
  }

  private async post(batch: Batch, attempt: number, duplicate: boolean): Promise<boolean> {
    const { subscription, payload } = batch;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await this.options.http.request({
        method: 'POST',
        url: subscription.url,
        headers: { ...this.headers(subscription), 'content-type': 'application/json; charset=utf-8' },
        body: batch.body,
        timeoutMs: this.options.timeoutMs,
      });
      status = response.status;
    } catch (err) {
      error = (err as Error).message;
    }
    // Only 200 acknowledges a delivery (receive.md); 201/204 are failures too.
    const ok = status === 200;
    this.log.push({
      at: this.options.clock().toISOString(),
      webhookId: subscription.id,
      url: subscription.url,
      requestId: payload.id,
      attempt,
      eventIds: payload.events.map((event) => event.id),
      eventTypes: payload.events.map((event) => event.type),
      status,
      ok,
      error,
      duplicate,
      abandoned: false,
    });
    this.options.onChange();
    return ok;
  }

  private headers(subscription: WebhookSubscription): Record<string, string> {
    const headers: Record<string, string> = { 'user-agent': 'engage-digital-simulator' };
    if (subscription.secret !== undefined && subscription.secret !== '') headers[DIMELO_SECRET_HEADER] = subscription.secret;
    return headers;
  }
}

/** A permutation guaranteed to differ from the input (length ≥ 2). */
function shuffled<T>(items: T[]): T[] {
  for (let tries = 0; tries < 5; tries += 1) {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i -= 1) {
      const j = Math.floor(Math.random() * (i + 1));
      [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
    }
    if (copy.some((item, index) => item !== items[index])) return copy;
  }
  return [...items].reverse();
}

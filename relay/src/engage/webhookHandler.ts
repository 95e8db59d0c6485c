import type { Logger } from 'pino';
import type { TenantConfig } from '../config';
import type { HandoverEngine } from '../handover/engine';
import { firstIssue, parseJsonBody } from '../http/jsonBody';
import { jsonError, jsonResponse, type PlainResponse, type TenantAdmission, textResponse, withRetryAfter } from '../http/plainResponse';
import { matchesAnySecret, secretsEqual } from '../secretCompare';
import { verificationQuerySchema, webhookDeliverySchema, webhookEventSchema, type WebhookEvent } from './webhookProtocol';

function webhookSecretsOf(tenant: TenantConfig): string[] {
  return tenant.previousWebhookSecret ? [tenant.webhookSecret, tenant.previousWebhookSecret] : [tenant.webhookSecret];
}

/** Engage webhooks: the GET verification handshake and POST deliveries authenticated by X-Dimelo-Secret. */
export class WebhookHandler {
  constructor(
    private readonly deps: { tenants: readonly TenantConfig[]; engine: HandoverEngine; logger: Logger; tenantLimit?: TenantAdmission },
  ) {}

  /** PubSubHubbub-style handshake: echo the challenge only when the verify token matches. */
  verify(query: Record<string, unknown>): PlainResponse {
    const parsed = verificationQuerySchema.safeParse(query);
    if (!parsed.success) return textResponse(400, `Invalid verification request: ${firstIssue(parsed.error)}`);
    let matched = false;
    for (const t of this.deps.tenants) if (secretsEqual(parsed.data['hub.verify_token'], t.verifyToken)) matched = true;
    if (!matched) return textResponse(403, 'Verification token mismatch');
    return { status: 200, contentType: 'text/plain', body: parsed.data['hub.challenge'] };
  }

  private tenantFor(secret: string | undefined, sourceId?: string): TenantConfig | null {
    let found: TenantConfig | null = null;
    for (const t of this.deps.tenants) {
      if (sourceId && t.sourceId !== sourceId) continue;
      if (matchesAnySecret(secret, webhookSecretsOf(t)) && !found) found = t;
    }
    return found;
  }

  async deliver(input: { rawBody: Buffer; secret: string | undefined; sourceId?: string }): Promise<PlainResponse> {
    if (input.secret === undefined) return jsonError(401, 'missing_secret', 'X-Dimelo-Secret header required');
    const tenant = this.tenantFor(input.secret, input.sourceId);
    if (!tenant) return jsonError(401, 'invalid_secret', 'X-Dimelo-Secret does not match');
    const waitMs = this.deps.tenantLimit?.(tenant.sourceId) ?? 0;
    if (waitMs > 0) return withRetryAfter(jsonError(429, 'rate_limited', 'Too many requests for this source'), waitMs);
    const json = parseJsonBody(input.rawBody);
    if (!json.ok) return jsonError(400, 'invalid_json', json.reason);
    const delivery = webhookDeliverySchema.safeParse(json.value);
    if (!delivery.success) return jsonError(400, 'invalid_delivery', firstIssue(delivery.error));

    const events: WebhookEvent[] = [];
    let malformed = 0;
    for (const raw of delivery.data.events) {
      const event = webhookEventSchema.safeParse(raw);
      if (event.success) events.push(event.data);
      else malformed++;
    }
    // Apply oldest first: a batch may carry several changes of one thread.
    events.sort((a, b) => a.issued_at.localeCompare(b.issued_at));
    const outcomes: Record<string, number> = {};
    for (const event of events) {
      const outcome = await this.deps.engine.webhookEvent(tenant, event);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    }
    this.deps.logger.info(
      { tenant: tenant.sourceId, deliveryId: delivery.data.id, events: events.length, malformed, outcomes },
      'webhook delivery processed',
    );
    return jsonResponse(200, { received: events.length, ignoredMalformed: malformed });
  }
}

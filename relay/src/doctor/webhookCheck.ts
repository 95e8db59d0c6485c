import type { AxiosInstance } from 'axios';
import { z } from 'zod';
import type { TenantConfig } from '../config';
import { HANDOVER_EVENT_TYPES } from '../engage/webhookProtocol';
import type { DoctorLine } from './doctorLine';

/**
 * The tenant's Engage webhook, read through Engage's REST API (`GET /1.0/webhooks`, the Webhook
 * object of ringcentral/engage-digital-api-docs specs/engage-digital_openapi3.yaml: `url`,
 * `active`, `registered_events`, `verify_token`, `staging_use`; the Secret is not in it). The
 * token sees the webhooks of its own API tokens, or all of them with "Manage API access tokens".
 */

const webhookSchema = z.object({
  id: z.string(),
  active: z.boolean().optional(),
  url: z.string().optional(),
  verify_token: z.string().nullable().optional(),
  registered_events: z.array(z.string()).optional(),
  staging_use: z.boolean().optional(),
});
type Webhook = z.infer<typeof webhookSchema>;
const webhookPageSchema = z.object({ count: z.number().optional(), records: z.array(webhookSchema) });

const PAGE_LIMIT = 150; // the documented maximum
const MAX_PAGES = 20;

/** The only event that ends a handover (README step 5). */
const REQUIRED_EVENT = 'intervention.closed';
const AGENT_JOINED_EVENTS = ['intervention.opened', 'task.taken'];
const RELEASED_EVENT = 'intervention.canceled';

export interface WebhookCheckOptions {
  /** The relay's URL as Engage reaches it (RELAY_PUBLIC_URL); without it any host is accepted. */
  publicUrl?: string;
  /** Several tenants on one relay: webhooks must name their source in the path. */
  multiTenant: boolean;
}

async function listWebhooks(http: AxiosInstance, tenant: TenantConfig): Promise<{ webhooks: Webhook[] } | { problem: string }> {
  const webhooks: Webhook[] = [];
  for (let pageIndex = 0; pageIndex < MAX_PAGES; pageIndex++) {
    const offset = pageIndex * PAGE_LIMIT;
    let response;
    try {
      response = await http.get<string>(`${tenant.baseApiUrl}/webhooks?offset=${offset}&limit=${PAGE_LIMIT}`, {
        headers: { Authorization: `Bearer ${tenant.apiAccessToken}`, Accept: 'application/json' },
      });
    } catch (err) {
      return { problem: `cannot reach Engage (${(err as Error).message.slice(0, 80)})` };
    }
    if (response.status !== 200) return { problem: `GET /webhooks answered HTTP ${response.status}` };
    let json: unknown;
    try {
      json = JSON.parse(String(response.data));
    } catch {
      return { problem: 'GET /webhooks answered something other than JSON' };
    }
    const page = webhookPageSchema.safeParse(json);
    if (!page.success) return { problem: 'GET /webhooks answered an unexpected shape' };
    webhooks.push(...page.data.records);
    if (page.data.records.length < PAGE_LIMIT || (page.data.count !== undefined && webhooks.length >= page.data.count)) break;
  }
  return { webhooks };
}

/** `https://host/prefix` without a trailing slash or a trailing /handover/rce[/<id>]. */
function relayBase(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '').replace(/\/handover\/rce(?:\/[^/]*)?$/, '');
}

function withoutTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

/** The relay's Engage route the webhook URL names: `/handover/rce` or `/handover/rce/<id>`, else null. */
function relayRouteOf(url: string): { base: string; sourceId: string | null } | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const match = /^(.*)\/handover\/rce(?:\/([^/]+))?\/?$/.exec(parsed.pathname);
  if (!match) return null;
  return { base: `${parsed.origin}${match[1] ?? ''}`, sourceId: match[2] ?? null };
}

export async function checkWebhook(http: AxiosInstance, tenant: TenantConfig, options: WebhookCheckOptions): Promise<DoctorLine[]> {
  const check = 'Webhook';
  const listed = await listWebhooks(http, tenant);
  if ('problem' in listed) return [{ ok: true, advisory: true, check, detail: `cannot check: ${listed.problem}` }];

  const expectedPath = options.multiTenant ? `/handover/rce/${tenant.sourceId}` : '/handover/rce';
  const expected = options.publicUrl ? `${relayBase(options.publicUrl)}${expectedPath}` : `<relay-url>${expectedPath}`;
  // Webhooks aimed at this tenant's route of a relay (any host when the public URL is unknown).
  const routed = listed.webhooks
    .map((webhook) => ({ webhook, route: relayRouteOf(webhook.url ?? '') }))
    .filter(
      (w): w is { webhook: Webhook; route: NonNullable<typeof w.route> } =>
        w.route !== null && (w.route.sourceId === null || w.route.sourceId === tenant.sourceId),
    );
  const ours = routed.filter(({ route }) => !options.publicUrl || withoutTrailingSlash(route.base) === relayBase(options.publicUrl));

  if (ours.length === 0) {
    const elsewhere = routed.map(({ webhook }) => webhook.url).slice(0, 3);
    const hint = elsewhere.length > 0 ? `; webhooks with the relay's path point elsewhere: ${elsewhere.join(', ')}` : '';
    return [
      { ok: false, check, detail: `no webhook of this API token points at ${expected} (Admin > Webhooks > +, README step 5)${hint}` },
    ];
  }

  const lines: DoctorLine[] = [];
  if (ours.length > 1)
    lines.push({
      ok: true,
      advisory: true,
      check,
      detail: `${ours.length} webhooks point at the relay (${ours.map(({ webhook }) => webhook.id).join(', ')}): Engage sends every event to each`,
    });
  for (const { webhook, route } of ours) {
    const label = ours.length > 1 ? `${check} ${webhook.id}` : check;
    const problems: string[] = [];
    if (options.multiTenant && route.sourceId === null)
      problems.push(
        `its URL ${webhook.url ?? ''} does not name the source: this relay serves several sources and answers 404 there; use ${expected}`,
      );
    if (webhook.active === false)
      problems.push(
        'it is not active (its verification failed, or it was switched off): fix what this doctor reports, then tick Active in Admin > Webhooks, which runs the verification again',
      );
    if (webhook.verify_token !== undefined && webhook.verify_token !== null && webhook.verify_token !== tenant.verifyToken)
      problems.push(
        "its Verification Token differs from the relay's RCE_VERIFY_TOKEN: the relay refuses Engage's verification request and Engage disables the webhook",
      );
    const events = new Set(webhook.registered_events ?? []);
    if (webhook.registered_events !== undefined && !events.has(REQUIRED_EVENT))
      problems.push(`it does not subscribe to ${REQUIRED_EVENT}: a handover never ends, the user stays with the closed conversation`);
    if (problems.length > 0) lines.push({ ok: false, check: label, detail: problems.join('; ') });
    else
      lines.push({
        ok: true,
        check: label,
        detail: `${webhook.url ?? ''} is active, with the relay's Verification Token and ${REQUIRED_EVENT}`,
      });

    const unused = [...events].filter((e) => !(HANDOVER_EVENT_TYPES as readonly string[]).includes(e));
    const advice: string[] = [];
    if (webhook.registered_events !== undefined && !events.has(RELEASED_EVENT))
      advice.push(`subscribe to ${RELEASED_EVENT} too, or a chat an agent released looks taken to the relay`);
    if (webhook.registered_events !== undefined && !AGENT_JOINED_EVENTS.some((e) => events.has(e)))
      advice.push(`subscribe to ${AGENT_JOINED_EVENTS.join(' or ')} for the On Agent Joined branch`);
    if (unused.length > 0) advice.push(`the relay ignores ${unused.join(', ')} (deliveries for nothing)`);
    if (webhook.staging_use === true) advice.push("Staging Environment is on: it receives the staging environment's events");
    if (advice.length > 0) lines.push({ ok: true, advisory: true, check: `${label} subscriptions`, detail: advice.join('; ') });
  }
  // The API does not render the Secret: say so rather than pass it silently.
  lines.push({
    ok: true,
    advisory: true,
    check: 'Webhook secret',
    detail:
      'cannot check: Engage\'s API does not show it. A wrong one makes the relay refuse every delivery (log reason invalid_secret, rce_http_requests_total{route="engage",status="401"})',
  });
  return lines;
}

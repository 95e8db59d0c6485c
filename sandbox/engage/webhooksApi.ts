import { createHash } from 'node:crypto';
import type { PageJson, RestErrorJson } from './objects';
// Types only: restApi.ts mounts these routes, so a value import back would be a cycle.
import type { JsonResponse, RestParams } from './restApi';
import type { WebhookSubscription } from './webhookDispatcher';

/**
 * The webhooks resource of Engage's REST API, read side: `GET /1.0/webhooks` (getAllWebhooks) and
 * `GET /1.0/webhooks/{id}` (getWebhook), as ringcentral/engage-digital-api-docs
 * specs/engage-digital_openapi3.yaml documents them. The Webhook object carries `id`, `active`,
 * `url`, `verify_token`, `registered_events`, `staging_use` and the `api_access_token` it belongs
 * to; the Secret is not part of it, so it is never rendered. `webhook_status` is in the schema
 * but its values are not documented: left out rather than invented.
 *
 * A webhook whose verification handshake failed is saved but disabled (docs/webhooks/create.md):
 * `active` is the dispatcher's `enabled`. Creating, updating and deleting are not modelled: the
 * admin does that in Admin > Webhooks (the simulator's `registerWebhook`), and neither the relay
 * nor its doctor writes webhooks.
 */

export interface WebhookAccessTokenJson {
  id: string;
}

export interface WebhookJson {
  id: string;
  active: boolean;
  url: string;
  verify_token: string;
  registered_events: string[];
  staging_use: boolean;
  api_access_token: WebhookAccessTokenJson;
}

export interface WebhookList {
  webhooks(): WebhookSubscription[];
}

export interface WebhooksApiOptions {
  webhooks?: WebhookList;
  apiAccessToken: string;
}

type Handler = (match: string[], params: RestParams) => JsonResponse;

/** The simulator has one API token; its id is stable and says nothing about the token. */
function accessTokenId(token: string): string {
  return createHash('sha256').update(`token-id:${token}`).digest('hex').slice(0, 24);
}

function webhookJson(subscription: WebhookSubscription, token: string): WebhookJson {
  return {
    id: subscription.id,
    active: subscription.enabled,
    url: subscription.url,
    verify_token: subscription.verifyToken,
    registered_events: [...subscription.events],
    staging_use: false,
    api_access_token: { id: accessTokenId(token) },
  };
}

/** offset/limit as every Engage list (pagination.md): limit 30 by default, 150 at most. */
function pageOf<T>(items: T[], params: RestParams): PageJson<T> {
  const int = (name: string, fallback: number) => {
    const value = Number.parseInt(params.get(name) ?? '', 10);
    return Number.isFinite(value) && value >= 0 ? value : fallback;
  };
  const offset = int('offset', 0);
  const limit = Math.min(150, int('limit', 30));
  return { count: items.length, offset, limit, records: items.slice(offset, offset + limit) };
}

function notFound(message: string): JsonResponse {
  const body: RestErrorJson = { error: 'not_found', message, status: 404 };
  return { status: 404, body };
}

/**
 * Routes for the REST router. `options` is read per request (the router's route table is built
 * before its constructor has stored them).
 */
export function webhookRoutes(options: () => WebhooksApiOptions): { method: string; pattern: RegExp; handler: Handler }[] {
  const all = (): WebhookJson[] => {
    const { webhooks, apiAccessToken } = options();
    // "Renders webhooks ordered by active and staging_use (descending)."
    return (webhooks?.webhooks() ?? [])
      .map((w) => webhookJson(w, apiAccessToken))
      .sort((a, b) => Number(b.active) - Number(a.active) || Number(b.staging_use) - Number(a.staging_use));
  };
  return [
    { method: 'GET', pattern: /^\/webhooks$/, handler: (_match, params) => ({ status: 200, body: pageOf(all(), params) }) },
    {
      method: 'GET',
      pattern: /^\/webhooks\/([^/]+)$/,
      handler: ([id]) => {
        const found = all().find((w) => w.id === id);
        return found ? { status: 200, body: found } : notFound(`Webhook ${id ?? ''} not found`);
      },
    },
  ];
}

import type { Logger } from 'pino';
import type { z } from 'zod';
import { tokenFingerprint } from '../../../contract/fingerprint';
import { type ConnectionFingerprint, relayRequestSchemas, type RelayRouteName, RELAY_ROUTES } from '../../../contract/relayApi';
import { DEFAULT_TOLERANCE_SECONDS, RELAY_HEADERS, verifyRelayRequest } from '../../../contract/requestSigning';
import type { TenantConfig } from '../config';
import type { HandoverEngine } from '../handover/engine';
import { firstIssue, parseJsonBody } from '../http/jsonBody';
import { jsonError, jsonResponse, type PlainResponse, type TenantAdmission, withRetryAfter } from '../http/plainResponse';
import type { Store } from '../store/types';

const ROUTE_BY_PATH = new Map<string, RelayRouteName>(Object.entries(RELAY_ROUTES).map(([name, path]) => [path, name as RelayRouteName]));

function relayKeysOf(tenant: TenantConfig): string[] {
  return tenant.previousRelayApiKey ? [tenant.relayApiKey, tenant.previousRelayApiKey] : [tenant.relayApiKey];
}

/** Which connection field disagrees with the relay's tenant, so an admin sees the drift. */
export function connectionDrift(tenant: TenantConfig, connection: ConnectionFingerprint): { field: string; label: string } | null {
  if (connection.botCategoryId !== tenant.botCategoryId) return { field: 'botCategoryId', label: 'Bot Category ID' };
  if (connection.agentCategoryId !== tenant.agentCategoryId) return { field: 'agentCategoryId', label: 'Agent Category ID' };
  if (connection.apiAccessTokenFingerprint !== tokenFingerprint(tenant.apiAccessToken)) return { field: 'apiAccessToken', label: 'API Access Token' };
  return null;
}

/** Calls from the Cognigy extension: signed with the relay API key, parsed with the shared contract. */
export class ExtensionApiHandler {
  constructor(private readonly deps: { tenants: readonly TenantConfig[]; engine: HandoverEngine; store: Store; logger: Logger; clock?: () => number; toleranceSeconds?: number; tenantLimit?: TenantAdmission }) {}

  async handle(input: { path: string; rawBody: Buffer; headers: Record<string, string | undefined> }): Promise<PlainResponse> {
    const route = ROUTE_BY_PATH.get(input.path);
    if (!route) return jsonError(404, 'unknown_route', `No relay API route ${input.path}`);
    const sourceId = input.headers[RELAY_HEADERS.source];
    const tenant = this.deps.tenants.find((t) => t.sourceId === sourceId);
    if (!sourceId || !tenant) return jsonError(401, 'unknown_source', 'No tenant for this Realtime Endpoint URL (source id) on the relay', 'realtimeEndpointUrl');

    const now = (this.deps.clock ?? Date.now)();
    const toleranceSeconds = this.deps.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
    const check = verifyRelayRequest({
      acceptedKeys: relayKeysOf(tenant),
      timestampHeader: input.headers[RELAY_HEADERS.timestamp],
      signatureHeader: input.headers[RELAY_HEADERS.signature],
      nonceHeader: input.headers[RELAY_HEADERS.nonce],
      rawBody: input.rawBody,
      nowSeconds: Math.floor(now / 1000),
      toleranceSeconds,
    });
    if (!check.ok) return jsonError(401, check.reason, 'Request signature rejected (check the Relay API Key and the clock)', check.reason === 'bad_signature' ? 'relayApiKey' : undefined);
    const waitMs = this.deps.tenantLimit?.(tenant.sourceId) ?? 0;
    if (waitMs > 0) return withRetryAfter(jsonError(429, 'rate_limited', 'Too many requests for this source'), waitMs);

    const json = parseJsonBody(input.rawBody);
    if (!json.ok) return jsonError(400, 'invalid_json', json.reason);
    const prepared = this.prepare(route, tenant, json.value);
    if ('rejection' in prepared) return prepared.rejection;

    // A captured request replayed verbatim (same signature) is refused within the window.
    const signature = input.headers[RELAY_HEADERS.signature] ?? '';
    const fresh = await this.deps.store.apply({ dedup: { key: `sig:${tenant.sourceId}:${signature}`, ttlMs: 2 * toleranceSeconds * 1000 } }); // a signature stays acceptable for ±tolerance
    if (fresh === 'duplicate') return jsonError(409, 'replayed_request', 'This signed request was already received');

    const result = await prepared.run();
    this.deps.logger.info({ tenant: tenant.sourceId, route }, 'extension call handled');
    return jsonResponse(200, result);
  }

  /** Parses the body with the route's contract schema, checks connection drift, returns the engine call to make. */
  private prepare(route: RelayRouteName, tenant: TenantConfig, body: unknown): { rejection: PlainResponse } | { run: () => Promise<unknown> } {
    const engine = this.deps.engine;
    const checked = <T extends { connection: ConnectionFingerprint }>(result: z.ZodSafeParseResult<T>, call: (request: T) => Promise<unknown>) => {
      if (!result.success) return { rejection: jsonError(400, 'invalid_request', firstIssue(result.error)) };
      const drift = connectionDrift(tenant, result.data.connection);
      if (drift) return { rejection: jsonError(409, 'connection_mismatch', `The connection's ${drift.label} differs from the relay's configuration for this source`, drift.field) };
      return { run: () => call(result.data) };
    };
    switch (route) {
      case 'startHandover':
        return checked(relayRequestSchemas.startHandover.safeParse(body), (r) => engine.startHandover(tenant, r));
      case 'userMessage':
        return checked(relayRequestSchemas.userMessage.safeParse(body), (r) => engine.userMessage(tenant, r));
      case 'cancelHandover':
        return checked(relayRequestSchemas.cancelHandover.safeParse(body), (r) => engine.cancelHandover(tenant, r));
      case 'queueStatus':
        return checked(relayRequestSchemas.queueStatus.safeParse(body), (r) => engine.queueStatus(tenant, r));
      case 'sendProfile':
        return checked(relayRequestSchemas.sendProfile.safeParse(body), (r) => engine.sendProfile(tenant, r));
    }
  }
}

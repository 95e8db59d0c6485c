import type { Logger } from 'pino';
import type { z } from 'zod';
import { tokenFingerprint } from '../../../contract/fingerprint';
import {
  type ConnectionFingerprint,
  RELAY_API_PREFIX,
  relayRequestSchemas,
  type RelayRouteName,
  RELAY_ROUTES,
} from '../../../contract/relayApi';
import {
  DEFAULT_TOLERANCE_SECONDS,
  macMatches,
  precheckRelayRequest,
  RELAY_HEADERS,
  type SignedRequestParts,
} from '../../../contract/requestSigning';
import type { TenantConfig } from '../config';
import { EngageCallFailedError, type HandoverEngine } from '../handover/engine';
import { firstIssue, parseJsonBody } from '../http/jsonBody';
import { jsonError, jsonResponse, type PlainResponse, type TenantAdmission, withRetryAfter } from '../http/plainResponse';
import type { Store } from '../store/types';

const ROUTE_BY_PATH = new Map<string, RelayRouteName>(Object.entries(RELAY_ROUTES).map(([name, path]) => [path, name as RelayRouteName]));

function relayKeysOf(tenant: TenantConfig): string[] {
  return tenant.previousRelayApiKey ? [tenant.relayApiKey, tenant.previousRelayApiKey] : [tenant.relayApiKey];
}

/** Which connection field disagrees with the relay's tenant, so an admin sees the drift. */
export function connectionDrift(tenant: TenantConfig, connection: ConnectionFingerprint): { field: string; label: string } | null {
  if (connection.sourceId !== tenant.sourceId) return { field: 'realtimeEndpointUrl', label: 'Realtime Endpoint URL (source id)' };
  if (connection.botCategoryId !== tenant.botCategoryId) return { field: 'botCategoryId', label: 'Bot Category ID' };
  if (connection.agentCategoryId !== tenant.agentCategoryId) return { field: 'agentCategoryId', label: 'Agent Category ID' };
  if (connection.apiAccessTokenFingerprint !== tokenFingerprint(tenant.apiAccessToken))
    return { field: 'apiAccessToken', label: 'API Access Token' };
  return null;
}

export type ExtensionHeaders = Record<string, string | undefined>;

/** A call whose headers passed every check that needs no body: the body may now be read. */
export interface AdmittedCall {
  route: RelayRouteName;
  tenant: TenantConfig;
  signed: SignedRequestParts;
  presented: Buffer;
  signature: string;
}

const SIGNATURE_REJECTED = 'Request signature rejected (check the Relay API Key and the clock)';

/** Calls from the Cognigy extension: signed with the relay API key (v2), parsed with the shared contract. */
export class ExtensionApiHandler {
  constructor(
    private readonly deps: {
      tenants: readonly TenantConfig[];
      engine: HandoverEngine;
      store: Store;
      logger: Logger;
      clock?: () => number;
      toleranceSeconds?: number;
      tenantLimit?: TenantAdmission;
    },
  ) {}

  /**
   * Before the body is read: the route exists, the source names a tenant, the signature headers
   * are present and well-formed and the timestamp is fresh. A caller without them costs no read.
   */
  admit(input: { method: string; path: string; headers: ExtensionHeaders }): AdmittedCall | { rejection: PlainResponse } {
    const route = ROUTE_BY_PATH.get(input.path);
    if (!route) return { rejection: jsonError(404, 'unknown_route', `No relay API route ${input.path.slice(0, 100)}`) };
    const nowSeconds = Math.floor((this.deps.clock ?? Date.now)() / 1000);
    const signatureHeader = input.headers[RELAY_HEADERS.signatureV2];
    const pre = precheckRelayRequest(
      {
        timestampHeader: input.headers[RELAY_HEADERS.timestamp],
        signatureHeader,
        nonceHeader: input.headers[RELAY_HEADERS.nonce],
        sourceHeader: input.headers[RELAY_HEADERS.source],
        legacySignatureHeader: input.headers[RELAY_HEADERS.signature],
      },
      nowSeconds,
      this.toleranceSeconds,
    );
    if (!pre.ok) {
      if (pre.reason === 'unsupported_signature')
        return {
          rejection: jsonError(
            401,
            pre.reason,
            'This extension signs requests the old way (v1): upload the current rce-handover extension',
            'extension',
          ),
        };
      return { rejection: jsonError(401, pre.reason, SIGNATURE_REJECTED, pre.reason === 'bad_signature' ? 'relayApiKey' : undefined) };
    }
    const tenant = this.deps.tenants.find((t) => t.sourceId === pre.parts.sourceId);
    if (!tenant)
      return {
        rejection: jsonError(
          401,
          'unknown_source',
          'No tenant for this Realtime Endpoint URL (source id) on the relay',
          'realtimeEndpointUrl',
        ),
      };
    return {
      route,
      tenant,
      signed: { ...pre.parts, method: input.method, path: `${RELAY_API_PREFIX}${input.path}` },
      presented: pre.presented,
      signature: signatureHeader ?? '',
    };
  }

  private get toleranceSeconds(): number {
    return this.deps.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  }

  /** Transport-agnostic entry for callers holding the whole request (tests, tools). */
  async handle(input: { method?: string; path: string; rawBody: Buffer; headers: ExtensionHeaders }): Promise<PlainResponse> {
    const admitted = this.admit({ method: input.method ?? 'POST', path: input.path, headers: input.headers });
    if ('rejection' in admitted) return admitted.rejection;
    return this.handleAdmitted(admitted, input.rawBody);
  }

  async handleAdmitted(call: AdmittedCall, rawBody: Buffer): Promise<PlainResponse> {
    const { tenant, route } = call;
    if (!macMatches(relayKeysOf(tenant), call.signed, rawBody, call.presented))
      return jsonError(401, 'bad_signature', SIGNATURE_REJECTED, 'relayApiKey');

    // Remembered as soon as it is proven, before the body is judged: a signed request refused for
    // its body (or its rate) cannot be presented again within the window.
    const { outcome: fresh } = await this.deps.store.apply({
      dedup: { key: `sig:${tenant.sourceId}:${call.signature}`, ttlMs: 2 * this.toleranceSeconds * 1000 },
    }); // a signature stays acceptable for ±tolerance
    if (fresh === 'duplicate') return jsonError(409, 'replayed_request', 'This signed request was already received');
    const waitMs = this.deps.tenantLimit?.(tenant.sourceId) ?? 0;
    if (waitMs > 0) return withRetryAfter(jsonError(429, 'rate_limited', 'Too many requests for this source'), waitMs);

    const json = parseJsonBody(rawBody);
    if (!json.ok) return jsonError(400, 'invalid_json', json.reason);
    const prepared = this.prepare(route, tenant, json.value);
    if ('rejection' in prepared) return prepared.rejection;

    let result: unknown;
    try {
      result = await prepared.run();
    } catch (err) {
      if (!(err instanceof EngageCallFailedError)) throw err;
      this.deps.logger.warn({ tenant: tenant.sourceId, route, reason: err.message }, 'extension call failed at Engage');
      return jsonError(502, 'engage_unavailable', err.message);
    }
    this.deps.logger.info({ tenant: tenant.sourceId, route }, 'extension call handled');
    return jsonResponse(200, result);
  }

  /** Parses the body with the route's contract schema, checks connection drift, returns the engine call to make. */
  private prepare(
    route: RelayRouteName,
    tenant: TenantConfig,
    body: unknown,
  ): { rejection: PlainResponse } | { run: () => Promise<unknown> } {
    const engine = this.deps.engine;
    const checked = <T extends { connection: ConnectionFingerprint }>(
      result: z.ZodSafeParseResult<T>,
      call: (request: T) => Promise<unknown>,
    ) => {
      if (!result.success) return { rejection: jsonError(400, 'invalid_request', firstIssue(result.error)) };
      const drift = connectionDrift(tenant, result.data.connection);
      if (drift)
        return {
          rejection: jsonError(
            409,
            'connection_mismatch',
            `The connection's ${drift.label} differs from the relay's configuration for this source`,
            drift.field,
          ),
        };
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
      case 'closeHandover':
        return checked(relayRequestSchemas.closeHandover.safeParse(body), (r) => engine.closeHandover(tenant, r));
      case 'agentAvailability':
        return checked(relayRequestSchemas.agentAvailability.safeParse(body), (r) => engine.agentAvailability(tenant, r));
    }
  }
}

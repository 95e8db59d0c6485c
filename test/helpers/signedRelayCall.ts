import axios from 'axios';
import { randomUUID } from 'node:crypto';
import { tokenFingerprint } from '../../contract/fingerprint';
import { RELAY_API_PREFIX, RELAY_ROUTES, type CognigySession, type RelayRouteName } from '../../contract/relayApi';
import { RELAY_HEADERS, signRelayRequest } from '../../contract/requestSigning';
import type { TenantConfig } from '../../relay/src/config';

/** A fresh nonce in the contract's alphabet. */
export const freshNonce = (): string => randomUUID().replace(/-/g, '');

/**
 * The signature headers the extension sends for `rawBody` on `route` (v2: method, path, source,
 * timestamp, nonce and body under the MAC). `path` overrides the route's path (to sign one route
 * and send to another).
 */
export function relayAuthHeaders(
  key: string,
  sourceId: string,
  route: RelayRouteName,
  rawBody: string,
  options: { timestampSeconds?: number; nonce?: string; path?: string } = {},
): Record<string, string> {
  const ts = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  const nonce = options.nonce ?? freshNonce();
  const path = options.path ?? `${RELAY_API_PREFIX}${RELAY_ROUTES[route]}`;
  return {
    [RELAY_HEADERS.timestamp]: String(ts),
    [RELAY_HEADERS.nonce]: nonce,
    [RELAY_HEADERS.signatureV2]: signRelayRequest(key, { method: 'POST', path, sourceId, timestampSeconds: ts, nonce }, rawBody),
    [RELAY_HEADERS.source]: sourceId,
  };
}

/** Posts a signed extension-API call the way the extension does, returning status and JSON body. */
export async function signedRelayCall(
  relayUrl: string,
  tenant: TenantConfig,
  route: RelayRouteName,
  body: Record<string, unknown>,
  options: { timestampSeconds?: number; key?: string; nonce?: string } = {},
): Promise<{ status: number; body: unknown; raw: string; headers: Record<string, string> }> {
  const raw = JSON.stringify(body);
  const response = await axios.post<string>(`${relayUrl}${RELAY_API_PREFIX}${RELAY_ROUTES[route]}`, raw, {
    headers: {
      'Content-Type': 'application/json',
      ...relayAuthHeaders(options.key ?? tenant.relayApiKey, tenant.sourceId, route, raw, options),
    },
    validateStatus: () => true,
    responseType: 'text',
    transformResponse: [(d: unknown) => d],
  });
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(response.data);
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed, raw: response.data, headers: response.headers as Record<string, string> };
}

export function envelopeFor(tenant: TenantConfig, session: CognigySession, requestId: string): Record<string, unknown> {
  return {
    requestId,
    connection: {
      sourceId: tenant.sourceId,
      botCategoryId: tenant.botCategoryId,
      agentCategoryId: tenant.agentCategoryId,
      apiAccessTokenFingerprint: tokenFingerprint(tenant.apiAccessToken),
    },
    session,
  };
}

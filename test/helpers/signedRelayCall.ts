import axios from 'axios';
import { tokenFingerprint } from '../../contract/fingerprint';
import { RELAY_API_PREFIX, RELAY_ROUTES, type CognigySession, type RelayRouteName } from '../../contract/relayApi';
import { RELAY_HEADERS, signRelayRequest } from '../../contract/requestSigning';
import type { TenantConfig } from '../../relay/src/config';

/** Posts a signed extension-API call the way the extension does, returning status and JSON body. */
export async function signedRelayCall(
  relayUrl: string,
  tenant: TenantConfig,
  route: RelayRouteName,
  body: Record<string, unknown>,
  options: { timestampSeconds?: number; key?: string; nonce?: string } = {},
): Promise<{ status: number; body: unknown; raw: string; headers: Record<string, string> }> {
  const raw = JSON.stringify(body);
  const ts = options.timestampSeconds ?? Math.floor(Date.now() / 1000);
  const response = await axios.post<string>(`${relayUrl}${RELAY_API_PREFIX}${RELAY_ROUTES[route]}`, raw, {
    headers: {
      'Content-Type': 'application/json',
      [RELAY_HEADERS.timestamp]: String(ts),
      ...(options.nonce ? { [RELAY_HEADERS.nonce]: options.nonce } : {}),
      [RELAY_HEADERS.signature]: signRelayRequest(options.key ?? tenant.relayApiKey, ts, raw, options.nonce),
      [RELAY_HEADERS.source]: tenant.sourceId,
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
    connection: { sourceId: tenant.sourceId, botCategoryId: tenant.botCategoryId, agentCategoryId: tenant.agentCategoryId, apiAccessTokenFingerprint: tokenFingerprint(tenant.apiAccessToken) },
    session,
  };
}

import type { TenantConfig } from '../config';
import { describeTransportError, headerOf, type PostText } from '../http/outboundHttp';
import { DeliveryError, statusFailure } from '../outbox/deliveryError';
import type { CognigyCallPayload } from '../outbox/jobs';

/**
 * Cognigy REST API: notify (straight to the user, no Flow run) and inject (runs the Flow as if
 * the user had typed). Auth header X-API-Key. Bodies as `@cognigy/rest-api-client` types them:
 * inject `IInjectRestDataBody_2_0 {text, data, URLToken, sessionId, userId}`, notify
 * `INotifyRestDataBody_2_0` = the same plus optional top-level `attachments`.
 */
export function cognigyRequestBody(kind: 'notify' | 'inject', payload: CognigyCallPayload): Record<string, unknown> {
  const { text, data, URLToken, sessionId, userId, attachments } = payload;
  const body: Record<string, unknown> = { text, data, URLToken, sessionId, userId };
  if (kind === 'notify' && attachments?.length) body.attachments = attachments;
  return body;
}

export async function callCognigy(
  postText: PostText,
  tenant: TenantConfig,
  kind: 'notify' | 'inject',
  payload: CognigyCallPayload,
): Promise<void> {
  const url = `${tenant.cognigyApiBaseUrl}/new/v2.0/endpoint/${kind}`;
  let response;
  try {
    response = await postText(url, JSON.stringify(cognigyRequestBody(kind, payload)), {
      'Content-Type': 'application/json',
      'X-API-Key': tenant.cognigyApiKey,
    });
  } catch (err) {
    throw new DeliveryError(`Cognigy ${kind}: ${describeTransportError(err)}`, true);
  }
  if (response.status >= 200 && response.status < 300) return;
  throw statusFailure(`Cognigy ${kind}: HTTP ${response.status}`, response.status, headerOf(response.headers, 'retry-after'));
}

import type { TenantConfig } from '../config';
import { describeTransportError, headerOf, type PostText } from '../http/outboundHttp';
import { DeliveryError, statusFailure } from '../outbox/deliveryError';
import type { CognigyCallPayload } from '../outbox/jobs';

/**
 * Cognigy REST API: notify (straight to the user, no Flow run) and inject (runs the Flow as if
 * the user had typed). Auth header X-API-Key.
 */
export async function callCognigy(postText: PostText, tenant: TenantConfig, kind: 'notify' | 'inject', payload: CognigyCallPayload): Promise<void> {
  const url = `${tenant.cognigyApiBaseUrl}/new/v2.0/endpoint/${kind}`;
  let response;
  try {
    response = await postText(url, JSON.stringify(payload), { 'Content-Type': 'application/json', 'X-API-Key': tenant.cognigyApiKey });
  } catch (err) {
    throw new DeliveryError(`Cognigy ${kind}: ${describeTransportError(err)}`, true);
  }
  if (response.status >= 200 && response.status < 300) return;
  throw statusFailure(`Cognigy ${kind}: HTTP ${response.status}`, response.status, headerOf(response.headers, 'retry-after'));
}

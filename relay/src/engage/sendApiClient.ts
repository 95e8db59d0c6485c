import type { TenantConfig } from '../config';
import { DeliveryError, statusFailure } from '../outbox/deliveryError';
import { describeTransportError, headerOf, type PostText } from '../http/outboundHttp';
import { signSdkBody, SDK_SIGNATURE_HEADER } from './sdkSignature';

/** Engage Source SDK Send API: POST <Realtime Endpoint URL>, signed body, answer `ok`. */
export async function callSendApi(postText: PostText, tenant: TenantConfig, action: string, params: Record<string, unknown>): Promise<void> {
  const body = JSON.stringify({ action, params });
  let response;
  try {
    response = await postText(tenant.realtimeEndpointUrl, body, { 'Content-Type': 'application/json', [SDK_SIGNATURE_HEADER]: signSdkBody(tenant.realtimeAccessToken, body) });
  } catch (err) {
    throw new DeliveryError(`Send API ${action}: ${describeTransportError(err)}`, true);
  }
  if (response.status === 200) return;
  const reason = String(response.data ?? '').slice(0, 120).replace(/\s+/g, ' ');
  throw statusFailure(`Send API ${action}: HTTP ${response.status} ${reason}`, response.status, headerOf(response.headers, 'retry-after'));
}

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

/** Per tenant, built on its first call: both endpoint URLs and the headers (the same for every call). */
interface CognigyTarget {
  notify: string;
  inject: string;
  headers: Record<string, string>;
}
const targets = new WeakMap<TenantConfig, CognigyTarget>();

function targetOf(tenant: TenantConfig): CognigyTarget {
  let target = targets.get(tenant);
  if (!target) {
    const base = `${tenant.cognigyApiBaseUrl}/new/v2.0/endpoint/`;
    target = {
      notify: `${base}notify`,
      inject: `${base}inject`,
      headers: { 'Content-Type': 'application/json', 'X-API-Key': tenant.cognigyApiKey },
    };
    targets.set(tenant, target);
  }
  return target;
}

export async function callCognigy(
  postText: PostText,
  tenant: TenantConfig,
  kind: 'notify' | 'inject',
  payload: CognigyCallPayload,
): Promise<void> {
  const target = targetOf(tenant);
  let response;
  try {
    response = await postText(target[kind], JSON.stringify(cognigyRequestBody(kind, payload)), target.headers);
  } catch (err) {
    throw new DeliveryError(`Cognigy ${kind}: ${describeTransportError(err)}`, true);
  }
  if (response.status >= 200 && response.status < 300) return;
  throw statusFailure(`Cognigy ${kind}: HTTP ${response.status}`, response.status, headerOf(response.headers, 'retry-after'));
}

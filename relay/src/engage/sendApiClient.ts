import type { TenantConfig } from '../config';
import { DeliveryError, statusFailure } from '../outbox/deliveryError';
import { describeTransportError, headerOf, type PostText } from '../http/outboundHttp';
import { signSdkBody, SDK_SIGNATURE_HEADER } from './sdkSignature';

/** Engage Source SDK Send API: POST <Realtime Endpoint URL>, signed body, answer `ok`. */
export async function callSendApi(
  postText: PostText,
  tenant: TenantConfig,
  action: string,
  params: Record<string, unknown>,
): Promise<void> {
  const body = JSON.stringify({ action, params });
  let response;
  try {
    response = await postText(tenant.realtimeEndpointUrl, body, {
      'Content-Type': 'application/json',
      [SDK_SIGNATURE_HEADER]: signSdkBody(tenant.realtimeAccessToken, body),
    });
  } catch (err) {
    throw new DeliveryError(`Send API ${action}: ${describeTransportError(err)}`, true);
  }
  if (response.status === 200) return;
  const reason = String(response.data ?? '')
    .slice(0, 120)
    .replace(/\s+/g, ' ');
  throw statusFailure(`Send API ${action}: HTTP ${response.status} ${reason}`, response.status, headerOf(response.headers, 'retry-after'));
}

/** Engage's limit for a messaging attachment (docs/interactions/web-messaging/attachments.md: smaller than 10M). */
export const MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024;
const FETCH_TIMEOUT_MS = 15_000;

/**
 * The message params with each attachment URL replaced by its content (objects.md Messages:
 * `{content: <base64>, filename}`), for files behind storage Engage cannot reach. Only the given
 * schemes, no redirects, at most MAX_ATTACHMENT_BYTES. A file that cannot be had for good
 * (4xx, too large) keeps its URL; a network failure or 5xx is retried with the job.
 */
export async function withAttachmentContent(params: Record<string, unknown>, schemes: 'https' | 'http'): Promise<Record<string, unknown>> {
  const attachments = Array.isArray(params.attachments) ? (params.attachments as unknown[]) : [];
  const out: unknown[] = [];
  for (const item of attachments) {
    const attachment = item !== null && typeof item === 'object' ? (item as { url?: unknown; filename?: unknown }) : {};
    const url = typeof attachment.url === 'string' && URL.canParse(attachment.url) ? new URL(attachment.url) : null;
    const allowed = url && (url.protocol === 'https:' || (schemes === 'http' && url.protocol === 'http:'));
    const content = allowed ? await fetchContent(url) : null;
    if (!url || !content) {
      out.push(item);
      continue;
    }
    const named =
      typeof attachment.filename === 'string' && attachment.filename
        ? attachment.filename
        : decodeURIComponent(url.pathname.split('/').filter(Boolean).pop() ?? '') || 'file';
    out.push({ content: content.toString('base64'), filename: named });
  }
  return { ...params, attachments: out };
}

async function fetchContent(url: URL): Promise<Buffer | null> {
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch (err) {
    throw new DeliveryError(`user file ${url.host}: ${err instanceof Error ? err.message : 'fetch failed'}`, true);
  }
  if (response.status >= 500) throw new DeliveryError(`user file ${url.host}: HTTP ${response.status}`, true);
  if (response.status !== 200 || !response.body) return null;
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared >= MAX_ATTACHMENT_BYTES) {
    await response.body.cancel();
    return null;
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total >= MAX_ATTACHMENT_BYTES) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

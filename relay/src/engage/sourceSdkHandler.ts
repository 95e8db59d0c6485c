import type { Logger } from 'pino';
import type { TenantConfig } from '../config';
import type { HandoverEngine } from '../handover/engine';
import { firstIssue, parseJsonBody } from '../http/jsonBody';
import { type FlatLineLog, flatLineLogger } from '../log';
import { type PlainResponse, type TenantAdmission, textResponse, withRetryAfter } from '../http/plainResponse';
import { safeParseAgentReply, safeParseSdkRequest } from './fastAgentReply';
import { signSdkBody, verifySdkSignature } from './sdkSignature';
import { IMPLEMENTATION_INFO, isHashedReplyKey, listParamsSchema, queuingUpdateParamsSchema, showParamsSchema } from './sourceSdkProtocol';

/**
 * Source SDK requests from Engage (POST to the source Base URI). Transport-agnostic: takes the
 * raw bytes and the presented signature, returns a signed response.
 */
export interface SourceSdkRequestInput {
  rawBody: Buffer;
  signature: string | undefined;
  /** When the Base URI names the source (`/handover/rce/<sourceId>`), only that tenant is tried. */
  sourceId?: string;
  now: number;
}

export function realtimeTokensOf(tenant: TenantConfig): string[] {
  return tenant.previousRealtimeAccessToken
    ? [tenant.realtimeAccessToken, tenant.previousRealtimeAccessToken]
    : [tenant.realtimeAccessToken];
}

function signedJson(tenant: TenantConfig, value: unknown): PlainResponse {
  const body = JSON.stringify(value);
  return {
    status: 200,
    contentType: 'application/json',
    body,
    headers: { 'X-SMCCSDK-SIGNATURE': signSdkBody(tenant.realtimeAccessToken, body) },
  };
}

export class SourceSdkHandler {
  /** The per-reply line: flat fields only (see flatLineLogger), so it skips the redaction pass. */
  private readonly replyLog: FlatLineLog;
  /** Each tenant with the tokens its requests may be signed with, worked out once. */
  private readonly signers: readonly { tenant: TenantConfig; tokens: readonly string[] }[];

  constructor(
    private readonly deps: {
      tenants: readonly TenantConfig[];
      engine: HandoverEngine;
      logger: Logger;
      replayWindowMs: number;
      /** How old an agent reply (`messages.create`) may be: the span its de-duplication key is remembered. */
      replyRetryWindowMs: number;
      tenantLimit?: TenantAdmission;
      allowHttpAttachments?: boolean;
      /** Engage asked for implementation.info (the admin saved the source, or a polling run). */
      onImplementationInfo?: (sourceId: string) => void;
    },
  ) {
    this.replyLog = flatLineLogger(deps.logger);
    this.signers = deps.tenants.map((tenant) => ({ tenant, tokens: realtimeTokensOf(tenant) }));
  }

  /** The tenant whose realtime token signed these bytes; every candidate is checked (constant work). */
  private tenantFor(input: SourceSdkRequestInput): TenantConfig | null {
    let found: TenantConfig | null = null;
    for (const { tenant, tokens } of this.signers) {
      if (input.sourceId && tenant.sourceId !== input.sourceId) continue;
      if (verifySdkSignature(tokens, input.rawBody, input.signature) && !found) found = tenant;
    }
    return found;
  }

  /**
   * Replay policy for Engage's signed `time` (the MAC covers it, so it cannot be altered).
   * - Missing or unparseable: refused (fail closed), whatever the action.
   * - `messages.create` (agent replies) is the one action Engage retries (up to 3 tries, `retry: true`,
   *   at times the docs do not give), and a retry may carry the first try's `time`. It must never be
   *   refused for its age: it is accepted as long as it is younger than the reply de-duplication
   *   memory (`dedupTtlMs`, 7 days), so a replay inside that span is answered with the same id and
   *   reaches the user once; a request older than that is refused.
   * - Every other action (queue updates, implementation.info, list/show) must be within
   *   `replayWindowMs` of our clock (default 5 min, either direction).
   * Returns the rejection reason, or null when the time is acceptable.
   */
  private checkTime(action: string, time: string | undefined, now: number): string | null {
    if (!time) return 'Invalid request format: time is required';
    const sentAt = Date.parse(time);
    if (!Number.isFinite(sentAt)) return 'Invalid request format: time is not a date';
    const skew = Math.abs(now - sentAt);
    const window =
      action === 'messages.create' ? Math.max(this.deps.replyRetryWindowMs, this.deps.replayWindowMs) : this.deps.replayWindowMs;
    return skew > window ? 'Request time outside the accepted window (replay protection)' : null;
  }

  async handle(input: SourceSdkRequestInput): Promise<PlainResponse> {
    if (!input.signature) return textResponse(401, 'Missing X-SMCCSDK-SIGNATURE (Source SDK) or X-Dimelo-Secret (webhook) header');
    // MAC first, JSON after: nothing from an unauthenticated body is parsed.
    const tenant = this.tenantFor(input);
    if (!tenant) return textResponse(401, 'Invalid signature');
    const waitMs = this.deps.tenantLimit?.(tenant.sourceId) ?? 0;
    if (waitMs > 0) return withRetryAfter(textResponse(429, 'Too many requests for this source'), waitMs);

    const json = parseJsonBody(input.rawBody);
    if (!json.ok) return textResponse(400, `Invalid request format: ${json.reason}`);
    // Hand-written fast path for the common shapes, zod otherwise (same output, zod's reasons).
    const request = safeParseSdkRequest(json.value, true); // straight from JSON.parse; params only read below
    if (!request.success) return textResponse(400, `Invalid request format: ${firstIssue(request.error)}`);
    const { action, params, time } = request.data;
    // The HTTP edge logs every rejection once, with this reason.
    const timeCheck = this.checkTime(action, time, input.now);
    if (timeCheck) return textResponse(400, timeCheck);

    switch (action) {
      case 'implementation.info':
        this.deps.onImplementationInfo?.(tenant.sourceId);
        return signedJson(tenant, IMPLEMENTATION_INFO);
      case 'messages.list':
      case 'threads.list': {
        const parsed = listParamsSchema.safeParse(params);
        if (!parsed.success) return textResponse(400, `Invalid params: ${firstIssue(parsed.error)}`);
        // Realtime source: everything reaches Engage through the Send API, nothing to poll.
        return signedJson(tenant, []);
      }
      case 'messages.show':
      case 'threads.show': {
        const parsed = showParamsSchema.safeParse(params);
        if (!parsed.success) return textResponse(400, `Invalid params: ${firstIssue(parsed.error)}`);
        return signedJson(tenant, {});
      }
      case 'messages.create': {
        const parsed = safeParseAgentReply(params, this.deps.allowHttpAttachments === true);
        if (!parsed.success) return textResponse(400, `Invalid params: ${firstIssue(parsed.error)}`);
        const result = await this.deps.engine.agentReply(tenant, parsed.data);
        this.replyLog(
          'info',
          {
            tenant: tenant.sourceId,
            threadId: parsed.data.thread_id,
            contentId: parsed.data.content_id,
            contentIdFromEngage: !isHashedReplyKey(parsed.data.content_id),
            retry: parsed.data.retry === true,
            accepted: 'id' in result,
          },
          'agent reply received',
        );
        return signedJson(tenant, result);
      }
      case 'messaging.queuing_update': {
        const parsed = queuingUpdateParamsSchema.safeParse(params);
        if (!parsed.success) return textResponse(400, `Invalid params: ${firstIssue(parsed.error)}`);
        const outcome = await this.deps.engine.queuingUpdate(tenant, parsed.data, input.rawBody);
        this.deps.logger.info(
          { tenant: tenant.sourceId, threadId: parsed.data.thread_id, position: parsed.data.position, outcome },
          'queue update received',
        );
        return signedJson(tenant, { status: outcome });
      }
      default:
        return textResponse(400, `Unsupported action ${action}`);
    }
  }
}

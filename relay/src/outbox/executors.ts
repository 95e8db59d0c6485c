import type { AxiosInstance } from 'axios';
import type { Logger } from 'pino';
import type { PostText } from '../http/outboundHttp';
import type { TenantConfig } from '../config';
import { callCognigy } from '../cognigy/cognigyClient';
import { EngageRestClient, type RestRateGate } from '../engage/restClient';
import { callSendApi, withAttachmentContent } from '../engage/sendApiClient';
import { categoryChangeFor, mergeCategories } from '../engage/threadCategories';
import type { OutboxJob } from '../store/types';
import { DeliveryError } from './deliveryError';
import {
  cognigyCallPayloadSchema,
  engageCategorizePayloadSchema,
  engageEndInterventionPayloadSchema,
  engageSendPayloadSchema,
  inactivityCheckPayloadSchema,
  type InactivityCheckPayload,
} from './jobs';
import type { JobExecutor } from './worker';

export interface ThreadDirectory {
  engageThreadOf(tenantId: string, threadId: string): Promise<string | null>;
  rememberEngageThread(tenantId: string, threadId: string, engageThreadId: string): Promise<void>;
  /** A due inactivity check: the engine decides (it writes jobs, no I/O here). */
  inactivityDue(tenant: TenantConfig, payload: InactivityCheckPayload): Promise<void>;
}

/** Maps each outbox job kind to the one external call it stands for. */
export function createJobExecutor(deps: {
  http: AxiosInstance;
  postText: PostText;
  tenants: ReadonlyMap<string, TenantConfig>;
  restGate: RestRateGate;
  threads: ThreadDirectory;
  /** Where a dropped read receipt is told (it never fails the conversation). */
  logger?: Pick<Logger, 'warn'>;
}): JobExecutor {
  const tenantOf = (job: OutboxJob): TenantConfig => {
    const tenant = deps.tenants.get(job.tenantId);
    if (!tenant) throw new DeliveryError(`tenant ${job.tenantId} is no longer configured`, false);
    return tenant;
  };
  const parse = <T>(schema: { safeParse: (v: unknown) => { success: true; data: T } | { success: false } }, job: OutboxJob): T => {
    const parsed = schema.safeParse(job.payload);
    if (!parsed.success) throw new DeliveryError(`corrupt ${job.kind} payload`, false);
    return parsed.data;
  };

  /**
   * Engage imports threads asynchronously: the content thread may not exist yet right after the first message.
   * A thread found by the lookup comes with its current categories (saves a REST call for the merge).
   */
  const resolveEngageThread = async (
    tenant: TenantConfig,
    rest: EngageRestClient,
    threadId: string,
  ): Promise<{ id: string; categoryIds: string[] | null }> => {
    const known = await deps.threads.engageThreadOf(tenant.sourceId, threadId);
    if (known) return { id: known, categoryIds: null };
    const found = await rest.findThreadByForeignId(threadId);
    // Engage usually imports within tens of ms: retry soon so the agent sees the handover quickly.
    if (!found) throw new DeliveryError('Engage has not imported the thread yet', true, 150);
    await deps.threads.rememberEngageThread(tenant.sourceId, threadId, found.id);
    return { id: found.id, categoryIds: found.thread_category_ids ?? null };
  };

  /**
   * A read receipt is a courtesy: retrying it would hold up the agent's next replies in the lane, and
   * giving up would put the conversation in error. One try; a refusal (e.g. Engage has not recorded
   * the reply's id yet) or any other failure is logged and dropped.
   */
  const sendReadReceipt = async (tenant: TenantConfig, job: OutboxJob, params: Record<string, unknown>): Promise<void> => {
    try {
      await callSendApi(deps.postText, tenant, 'status.mark_as_read', params);
    } catch (error) {
      const reason = error instanceof DeliveryError ? error.message : 'unexpected error';
      deps.logger?.warn({ tenant: tenant.sourceId, jobId: job.id, err: reason }, 'read receipt dropped');
    }
  };

  return async (job) => {
    const tenant = tenantOf(job);
    switch (job.kind) {
      case 'engage.send': {
        const payload = parse(engageSendPayloadSchema, job);
        if (payload.action === 'status.mark_as_read') {
          // A receipt job of its own, as relays before issue 20 wrote them (still in stores after an upgrade).
          await sendReadReceipt(tenant, job, payload.params);
          return;
        }
        await callSendApi(
          deps.postText,
          tenant,
          payload.action,
          payload.attachmentsByContent ? await withAttachmentContent(payload.params, payload.attachmentsByContent) : payload.params,
        );
        return;
      }
      case 'engage.categorize': {
        const payload = parse(engageCategorizePayloadSchema, job);
        const rest = new EngageRestClient(deps.http, tenant, deps.restGate);
        const resolved = await resolveEngageThread(tenant, rest, payload.threadId);
        const engageThreadId = resolved.id;
        // update_categories replaces the set: start from the thread's current categories and change only ours.
        let current = resolved.categoryIds;
        if (!current) {
          const thread = await rest.thread(engageThreadId);
          if (!thread) throw new DeliveryError('Engage thread not found (404)', true, 1000);
          current = thread.thread_category_ids ?? thread.category_ids ?? [];
        }
        const next = mergeCategories(current, categoryChangeFor(tenant, payload.purpose, payload.additionalCategoryIds));
        if (!next) return;
        const outcome = await rest.updateThreadCategories(engageThreadId, next);
        if (outcome === 'conflict') throw new DeliveryError('Engage is still categorizing the thread (409)', true, 1000);
        if (outcome === 'not_found') throw new DeliveryError('Engage thread not found (404)', true, 1000);
        return;
      }
      case 'engage.endIntervention': {
        const payload = parse(engageEndInterventionPayloadSchema, job);
        const rest = new EngageRestClient(deps.http, tenant, deps.restGate);
        const engageThreadId = await deps.threads.engageThreadOf(tenant.sourceId, payload.threadId);
        // Never imported or never categorized: no intervention can exist.
        if (!engageThreadId) return;
        for (const intervention of await rest.openInterventionsOf(engageThreadId)) await rest.endIntervention(intervention.id);
        return;
      }
      case 'handover.inactivity':
        await deps.threads.inactivityDue(tenant, parse(inactivityCheckPayloadSchema, job));
        return;
      case 'cognigy.notify':
      case 'cognigy.inject': {
        const payload = parse(cognigyCallPayloadSchema, job);
        await callCognigy(deps.postText, tenant, job.kind === 'cognigy.notify' ? 'notify' : 'inject', payload);
        // Cognigy has the message: from here on nothing may fail the job, or a retry would show it twice.
        if (job.kind === 'cognigy.notify' && payload.readReceiptId !== undefined)
          await sendReadReceipt(tenant, job, { id: payload.readReceiptId });
        return;
      }
    }
  };
}

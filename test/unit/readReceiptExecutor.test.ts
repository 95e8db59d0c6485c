import axios from 'axios';
import { loadConfig } from '../../relay/src/config';
import { OutboundTransportError, type PostText, type TextResponse } from '../../relay/src/http/outboundHttp';
import { DeliveryError } from '../../relay/src/outbox/deliveryError';
import { createJobExecutor } from '../../relay/src/outbox/executors';
import { engageSendJob } from '../../relay/src/outbox/jobs';
import type { OutboxJob } from '../../relay/src/store/types';
import { VALID_TENANT_ENV } from '../helpers/tenantEnv';

const tenant = loadConfig({ ...VALID_TENANT_ENV }).tenants[0]!;

function job(action: string): OutboxJob {
  const built = engageSendJob(tenant.sourceId, 'thread-1', Date.now() + 60_000, { action, params: { id: 'reply-1' } });
  return { ...built, id: 'job-1', seq: 1, attempts: 0, nextAttemptAt: 0, createdAt: 0, lastError: null };
}

/** An executor whose Send API answers with `answer`; records the warnings it logs. */
function executorAnswering(answer: () => Promise<TextResponse>) {
  const warnings: Array<Record<string, unknown>> = [];
  const postText: PostText = async () => answer();
  const execute = createJobExecutor({
    http: axios.create(),
    postText,
    tenants: new Map([[tenant.sourceId, tenant]]),
    restGate: { take: async () => true } as never,
    threads: { engageThreadOf: async () => null, rememberEngageThread: async () => undefined, inactivityDue: async () => undefined },
    logger: { warn: (fields: Record<string, unknown>) => void warnings.push(fields) } as never,
  });
  return { execute, warnings };
}

const refused: TextResponse = { status: 404, headers: {}, data: 'message not found' };
const unavailable: TextResponse = { status: 503, headers: {}, data: 'unavailable' };

describe('read receipts (status.mark_as_read) never hold up or fail a conversation', () => {
  it.each([
    ['refused (404: Engage has not recorded the reply yet)', async () => refused],
    ['Engage unavailable (503)', async () => unavailable],
    ['a transport failure', async (): Promise<TextResponse> => Promise.reject(new OutboundTransportError('ECONNRESET'))],
  ])('a receipt that fails once is dropped with a warning: %s', async (_name, answer) => {
    const { execute, warnings } = executorAnswering(answer);
    await expect(execute(job('status.mark_as_read'))).resolves.toBeUndefined();
    expect(warnings).toEqual([expect.objectContaining({ tenant: tenant.sourceId, jobId: 'job-1' })]);
  });

  it('other Send API actions still fail, so the outbox retries or gives up as before', async () => {
    const { execute, warnings } = executorAnswering(async () => unavailable);
    await expect(execute(job('messages.create'))).rejects.toBeInstanceOf(DeliveryError);
    const permanent = executorAnswering(async () => refused);
    await expect(permanent.execute(job('messages.create'))).rejects.toMatchObject({ retryable: false });
    expect([...warnings, ...permanent.warnings]).toEqual([]);
  });
});

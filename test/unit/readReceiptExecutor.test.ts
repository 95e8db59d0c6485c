import axios from 'axios';
import { loadConfig } from '../../relay/src/config';
import { OutboundTransportError, type PostText, type TextResponse } from '../../relay/src/http/outboundHttp';
import { DeliveryError } from '../../relay/src/outbox/deliveryError';
import { createJobExecutor } from '../../relay/src/outbox/executors';
import { cognigyJob, engageSendJob } from '../../relay/src/outbox/jobs';
import type { OutboxJob } from '../../relay/src/store/types';
import { VALID_TENANT_ENV } from '../helpers/tenantEnv';

const tenant = loadConfig({ ...VALID_TENANT_ENV }).tenants[0]!;

function job(action: string): OutboxJob {
  const built = engageSendJob(tenant.sourceId, 'thread-1', Date.now() + 60_000, { action, params: { id: 'reply-1' } });
  return { ...built, id: 'job-1', seq: 1, attempts: 0, nextAttemptAt: 0, createdAt: 0, lastError: null };
}

/** An executor whose outbound calls go to `postText`; records the warnings it logs. */
function executorPosting(postText: PostText) {
  const warnings: Array<Record<string, unknown>> = [];
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

/** An executor whose Send API answers with `answer`. */
const executorAnswering = (answer: () => Promise<TextResponse>) => executorPosting(async () => answer());

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

describe('the read receipt an agent reply notify carries', () => {
  const notifyJob = (readReceiptId?: string): OutboxJob => {
    const built = cognigyJob('cognigy.notify', tenant.sourceId, 'thread-1', Date.now() + 60_000, {
      URLToken: 'token',
      userId: 'user-1',
      sessionId: 'session-1',
      text: 'Hello from the agent',
      data: {},
      ...(readReceiptId === undefined ? {} : { readReceiptId }),
    });
    return { ...built, id: 'job-1', seq: 1, attempts: 0, nextAttemptAt: 0, createdAt: 0, lastError: null };
  };

  /** Cognigy answers `cognigy`, Engage's Send API answers `engage`; every call is recorded in order. */
  function twoSided(cognigy: () => Promise<TextResponse>, engage: () => Promise<TextResponse>) {
    const calls: Array<{ to: 'cognigy' | 'engage'; body: Record<string, unknown> }> = [];
    const { execute, warnings } = executorPosting(async (url, body) => {
      const to = url.startsWith(tenant.cognigyApiBaseUrl) ? 'cognigy' : 'engage';
      calls.push({ to, body: JSON.parse(body) as Record<string, unknown> });
      return to === 'cognigy' ? cognigy() : engage();
    });
    return { execute, calls, warnings };
  }
  const ok: TextResponse = { status: 200, headers: {}, data: '' };

  it('goes to Engage after Cognigy accepted the notify, with the reply id, and is not sent to Cognigy', async () => {
    const { execute, calls, warnings } = twoSided(
      async () => ok,
      async () => ok,
    );
    await execute(notifyJob('reply-42'));
    expect(calls.map((c) => c.to)).toEqual(['cognigy', 'engage']);
    expect(calls[0]?.body).not.toHaveProperty('readReceiptId');
    expect(calls[1]?.body).toMatchObject({ action: 'status.mark_as_read', params: { id: 'reply-42' } });
    expect(warnings).toEqual([]);
  });

  it('a receipt Engage refuses leaves the delivered notify delivered (no retry would show it twice)', async () => {
    const { execute, calls, warnings } = twoSided(
      async () => ok,
      async () => refused,
    );
    await expect(execute(notifyJob('reply-42'))).resolves.toBeUndefined();
    expect(calls.map((c) => c.to)).toEqual(['cognigy', 'engage']);
    expect(warnings).toEqual([expect.objectContaining({ tenant: tenant.sourceId, jobId: 'job-1' })]);
  });

  it('no receipt while Cognigy has not accepted the message: the notify fails and is retried', async () => {
    const { execute, calls } = twoSided(
      async () => unavailable,
      async () => ok,
    );
    await expect(execute(notifyJob('reply-42'))).rejects.toBeInstanceOf(DeliveryError);
    expect(calls.map((c) => c.to)).toEqual(['cognigy']);
  });

  it('a notify without a receipt id (bot and relay notices) sends none', async () => {
    const { execute, calls } = twoSided(
      async () => ok,
      async () => ok,
    );
    await execute(notifyJob());
    expect(calls.map((c) => c.to)).toEqual(['cognigy']);
  });
});

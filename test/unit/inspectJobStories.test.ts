import { jobStories, pendingJobView } from '../../relay/src/store/inspectCli';
import type { HistoryEntry, OutboxJob } from '../../relay/src/store/types';

const T0 = Date.parse('2026-12-03T10:00:00.000Z');

function pendingJob(patch: Partial<OutboxJob> = {}): OutboxJob {
  return {
    id: 'job-1',
    tenantId: 'tenant-a',
    threadId: 't1',
    lane: 'tenant-a/t1/cognigy',
    kind: 'cognigy.notify',
    payload: { URLToken: 'secret-url-token', text: 'the whole message body' },
    deadlineAt: T0 + 60_000,
    seq: 1,
    attempts: 0,
    nextAttemptAt: T0,
    createdAt: T0,
    lastError: null,
    ...patch,
  };
}

describe('relay inspect: jobs whose write left no timeline entry (issue 20)', () => {
  it('a job waiting for its first attempt is told from the outbox, by its note, never by its payload', () => {
    const view = pendingJobView(pendingJob({ note: { source: 'agent reply', summary: 'notify "Hi" (2 chars)' } }));
    expect(JSON.stringify(view)).not.toContain('secret-url-token');
    expect(JSON.stringify(view)).not.toContain('the whole message body');
    expect(jobStories([], [view])).toEqual([
      { id: 'job-1', kind: 'cognigy.notify', summary: 'notify "Hi" (2 chars)', queuedAt: T0, failures: [], outcome: null },
    ]);
  });

  it('a noted job is told by its attempt entries; a pending job of a write entry keeps that entry summary', () => {
    const note = { source: 'agent reply', summary: 'notify "Hi" (2 chars)' } as const;
    const history: HistoryEntry[] = [
      { at: T0, type: 'write', source: 'extension', jobs: [{ id: 'job-2', kind: 'engage.send', summary: 'send m1' }] },
      {
        at: T0 + 5,
        type: 'retry',
        jobId: 'job-1',
        kind: 'cognigy.notify',
        attempt: 1,
        error: 'HTTP 503',
        nextAttemptAt: T0 + 50,
        queuedAt: T0 - 1,
        note,
      },
    ];
    const stories = jobStories(history, [
      pendingJobView(pendingJob({ id: 'job-2', kind: 'engage.send' })),
      pendingJobView(pendingJob({ note })),
    ]);
    expect(stories).toEqual([
      { id: 'job-2', kind: 'engage.send', summary: 'send m1', queuedAt: T0, failures: [], outcome: null },
      {
        id: 'job-1',
        kind: 'cognigy.notify',
        summary: note.summary,
        queuedAt: T0 - 1,
        failures: [{ at: T0 + 5, attempt: 1, error: 'HTTP 503', nextAttemptAt: T0 + 50 }],
        outcome: null,
      },
    ]);
  });
});

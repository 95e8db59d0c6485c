import {
  cognigyJob,
  engageCategorizeJob,
  engageEndInterventionJob,
  engageSendJob,
  inactivityCheckJob,
  summarizeJob,
} from '../../relay/src/outbox/jobs';
import type { NewOutboxJob } from '../../relay/src/store/types';

// The job constructors compute the timeline summary from the typed payload (issue 20: no parse on the
// write path); a job without one (e.g. read back from a store) is summarised by parsing its payload.
// Both routes must print the same line, so `relay inspect` cannot tell them apart.

const session = { URLToken: 'tok', userId: 'u1', sessionId: 's1' };

const jobs: NewOutboxJob[] = [
  cognigyJob('cognigy.notify', 'src', 't', 0, {
    ...session,
    text: 'Hello from agent Anna,\n how can I help?',
    data: { rceHandover: { agentName: 'Anna' } },
  }),
  cognigyJob('cognigy.notify', 'src', 't', 0, { ...session, text: 'short', data: { rceHandover: { agentName: null } } }),
  cognigyJob('cognigy.notify', 'src', 't', 0, { ...session, text: 'x', data: { rceHandover: { agentName: '' } } }),
  cognigyJob('cognigy.notify', 'src', 't', 0, { ...session, text: 'x', data: { rceHandover: { agentName: 7 } } }),
  cognigyJob('cognigy.notify', 'src', 't', 0, { ...session, text: 'x', data: { rceHandover: ['Anna'] } }),
  cognigyJob('cognigy.notify', 'src', 't', 0, {
    ...session,
    text: '😀'.repeat(20),
    data: {},
    attachments: [{ name: 'a.png', url: 'https://files.example/a.png', type: 'image' }],
  }),
  cognigyJob('cognigy.inject', 'src', 't', 0, {
    ...session,
    text: '',
    data: { handover: { status: 'queued', position: 2, reason: 'busy' } },
  }),
  cognigyJob('cognigy.inject', 'src', 't', 0, { ...session, text: '', data: { handover: { status: 'active', position: null } } }),
  cognigyJob('cognigy.inject', 'src', 't', 0, { ...session, text: '', data: {} }),
  engageSendJob('src', 't', 0, {
    action: 'messages.create',
    params: { body: 'Hi there, I need help with my order', author: { id: 'cog-u-1' } },
  }),
  engageSendJob('src', 't', 0, {
    action: 'messages.create',
    params: { body: 'Bot says hi', author: { id: 'bot-1' }, attachments: [{}, {}] },
  }),
  engageSendJob('src', 't', 0, { action: 'messages.create', params: { author: { id: 'cog-u-1' } } }),
  engageSendJob('src', 't', 0, { action: 'typing.start', params: {} }),
  engageCategorizeJob('src', 0, { threadId: 't', purpose: 'return_to_bot' }),
  engageEndInterventionJob('src', 0, { threadId: 't' }),
  inactivityCheckJob('src', { threadId: 't', dueAt: 5 }, 10),
];

describe('job summaries for the conversation timeline', () => {
  it.each(jobs.map((job) => [job.kind, job] as const))(
    '%s: the constructor’s summary equals the one parsed from the stored payload',
    (_kind, job) => {
      expect(job.summary).toEqual(expect.any(String));
      const { summary, ...stored } = job;
      expect(summarizeJob(stored)).toBe(summary);
      expect(summarizeJob(job)).toBe(summary);
    },
  );

  it('keeps the preview short and names the agent', () => {
    expect(jobs[0]?.summary).toBe('notify from agent "Anna" "Hello from agent…" (39 chars)');
  });
});

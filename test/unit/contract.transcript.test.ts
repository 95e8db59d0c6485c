import { startHandoverRequestSchema } from '../../contract/relayApi';

/** The relay accepts a transcript straight from Cognigy's Get Transcript node, normalised to our lines. */

const envelope = {
  requestId: 'req-1',
  connection: { sourceId: 'src', botCategoryId: 'b', agentCategoryId: 'a', apiAccessTokenFingerprint: '0123456789abcdef' },
  session: { URLToken: 't', userId: 'u', sessionId: 's' },
  firstMessage: 'help',
};

describe('start handover transcript', () => {
  it('normalises Get Transcript entries and keeps our own lines', () => {
    const parsed = startHandoverRequestSchema.parse({
      ...envelope,
      transcript: [
        { role: 'user', type: 'input', payload: { text: 'hi' }, timestamp: Date.UTC(2026, 0, 2, 3, 4, 5) },
        { role: 'assistant', type: 'output', payload: { text: 'hello' } },
        { role: 'user', type: 'input', payload: { text: null } },
        { role: 'tool', type: 'toolCall', payload: { name: 'lookup' } },
        { role: 'bot', text: 'ours' },
      ],
    });
    expect(parsed.transcript).toEqual([
      { role: 'user', text: 'hi', at: '2026-01-02T03:04:05.000Z' },
      { role: 'bot', text: 'hello' },
      { role: 'bot', text: 'ours' },
    ]);
  });

  it('still refuses lines that are neither shape', () => {
    expect(startHandoverRequestSchema.safeParse({ ...envelope, transcript: [{ role: 'user' }] }).success).toBe(false);
    expect(startHandoverRequestSchema.safeParse({ ...envelope, transcript: [{ role: 'bot', text: '' }] }).success).toBe(false);
  });
});

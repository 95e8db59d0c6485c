import { CANCEL_PAYLOAD } from '../../extension/src/handoverLogic';
import { decideMirror, mirrorInputId } from '../../extension/src/nodes/mirrorToRce';

/** What one execution of Mirror to RCE sends: at most one message, or a reason to send nothing. */

const base = { handoverActive: false, mirrorUserInput: true, botText: '' };

describe('decideMirror', () => {
  it('sends the user input as the customer, with attachment URLs', () => {
    expect(
      decideMirror({
        ...base,
        input: { text: 'Hi there', data: { attachments: [{ url: 'https://x.example/a.png', filename: 'a.png' }, 'ftp://no'] } },
      }),
    ).toEqual({
      action: 'send',
      message: { role: 'user', text: 'Hi there', attachments: [{ url: 'https://x.example/a.png', filename: 'a.png' }] },
    });
    expect(decideMirror({ ...base, input: { text: '', data: { attachments: ['https://x.example/b.pdf'] } } })).toEqual({
      action: 'send',
      message: { role: 'user', text: '', attachments: [{ url: 'https://x.example/b.pdf' }] },
    });
  });

  it('prefers the user input over the bot text: one message per execution', () => {
    expect(decideMirror({ ...base, botText: 'Bot line', input: { text: 'User line' } })).toMatchObject({
      action: 'send',
      message: { role: 'user', text: 'User line' },
    });
    expect(decideMirror({ ...base, botText: 'Bot line', input: { text: '  ' } })).toEqual({
      action: 'send',
      message: { role: 'bot', text: 'Bot line', attachments: [] },
    });
    expect(decideMirror({ ...base, mirrorUserInput: false, botText: 'Bot line', input: { text: 'User line' } })).toMatchObject({
      action: 'send',
      message: { role: 'bot', text: 'Bot line' },
    });
  });

  it('clips text to the contract limit', () => {
    const long = 'x'.repeat(25000);
    const decision = decideMirror({ ...base, input: { text: long } });
    expect(decision.action === 'send' && decision.message.text.length).toBe(20000);
  });

  it('sends nothing when there is nothing to send', () => {
    expect(decideMirror({ ...base, input: { text: '' } })).toEqual({ action: 'skip', reason: 'nothing_to_send' });
    expect(decideMirror({ ...base, input: {} })).toEqual({ action: 'skip', reason: 'nothing_to_send' });
    expect(decideMirror({ ...base, mirrorUserInput: false, botText: ' ', input: { text: 'hi' } })).toEqual({
      action: 'skip',
      reason: 'nothing_to_send',
    });
  });

  it('leaves a running handover to the Handover node', () => {
    expect(decideMirror({ ...base, handoverActive: true, botText: 'Bot line', input: { text: 'to the agent' } })).toEqual({
      action: 'skip',
      reason: 'handover_active',
    });
    expect(decideMirror({ ...base, handoverActive: true, input: { text: CANCEL_PAYLOAD } })).toEqual({
      action: 'skip',
      reason: 'handover_active',
    });
  });

  it('never mirrors an event injected by the relay, even a malformed one', () => {
    const event = { source: 'rce-handover', status: 'queue', threadId: 'cg-1', position: 1 };
    expect(decideMirror({ ...base, botText: 'Bot line', input: { text: 'x', data: { handover: event } } })).toEqual({
      action: 'skip',
      reason: 'handover_event',
    });
    expect(decideMirror({ ...base, input: { text: 'x', data: { handover: { source: 'rce-handover', status: 'nope' } } } })).toEqual({
      action: 'skip',
      reason: 'handover_event',
    });
    // Someone else's `handover` data is ordinary input.
    expect(decideMirror({ ...base, input: { text: 'x', data: { handover: { source: 'other' } } } })).toMatchObject({ action: 'send' });
  });
});

describe('mirrorInputId', () => {
  it('is stable per input and node, and differs between nodes', () => {
    expect(mirrorInputId('in-1', 'node-a')).toBe(mirrorInputId('in-1', 'node-a'));
    expect(mirrorInputId('in-1', 'node-a')).not.toBe(mirrorInputId('in-1', 'node-b'));
    expect(mirrorInputId('in-1', 'node-a')).not.toBe('in-1');
  });

  it('is undefined without an input id (the client then uses a random request id)', () => {
    expect(mirrorInputId(undefined, 'node-a')).toBeUndefined();
    expect(mirrorInputId('  ', 'node-a')).toBeUndefined();
  });
});

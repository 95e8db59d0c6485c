import { callCognigy, cognigyRequestBody } from '../../relay/src/cognigy/cognigyClient';
import type { TenantConfig } from '../../relay/src/config';
import { agentReplyToNotify } from '../../relay/src/handover/agentReplyText';
import { agentReplyParamsSchema } from '../../relay/src/engage/sourceSdkProtocol';
import { createOutboundHttp } from '../../relay/src/http/outboundHttp';
import { CognigyApiSimulator } from '../../sandbox/cognigy/cognigyApiSimulator';

/**
 * What the relay sends to Cognigy's notify/inject API, checked against the body shapes
 * `@cognigy/rest-api-client` declares (INotifyRestDataBody_2_0 / IInjectRestDataBody_2_0).
 */

const session = { URLToken: 'url-token', userId: 'user-1', sessionId: 'session-1' };
const reply = (extra: Record<string, unknown>) => agentReplyParamsSchema.parse({ content_id: 'c-1', thread_id: 't-1', ...extra });

describe('agent reply → Cognigy notify content', () => {
  it('maps Engage attachments to Cognigy media attachments and keeps the links in the text', () => {
    const notify = agentReplyToNotify(
      reply({
        body: '<p>See <b>both</b></p>',
        format: 'html',
        attachments: [
          { url: 'https://cdn.example.com/a/clip.mp4', type: 'video' },
          { url: 'https://cdn.example.com/a/song.mp4', type: 'audio', filename: 'Song' },
          { url: 'https://cdn.example.com/a/terms%20v2.pdf' },
        ],
      }),
    );
    expect(notify).toEqual({
      text: 'See both\nclip.mp4: https://cdn.example.com/a/clip.mp4\nSong: https://cdn.example.com/a/song.mp4\nterms v2.pdf: https://cdn.example.com/a/terms%20v2.pdf',
      attachments: [
        { name: 'clip.mp4', url: 'https://cdn.example.com/a/clip.mp4', type: 'video' },
        { name: 'Song', url: 'https://cdn.example.com/a/song.mp4', type: 'audio' },
        { name: 'terms v2.pdf', url: 'https://cdn.example.com/a/terms%20v2.pdf', type: 'file' },
      ],
    });
  });

  it('never forwards an attachment that is not an http(s) link', () => {
    // The Engage boundary already refuses such URLs; this is the builder's own second line, so the
    // params are made past the schema.
    const unchecked = (attachments: { url: string; type?: string }[]) => ({ ...reply({ body: 'files' }), attachments });
    const notify = agentReplyToNotify(
      unchecked([{ url: 'ftp://files.example.com/a.pdf' }, { url: 'https://cdn.example.com/b.png', type: 'image' }]),
    );
    expect(notify?.attachments.map((a) => a.url)).toEqual(['https://cdn.example.com/b.png']);
    expect(notify?.text).not.toContain('ftp:');
    expect(agentReplyToNotify({ ...unchecked([{ url: 'ftp://files.example.com/a.pdf' }]), body: null })).toBeNull();
  });

  it('sends attachments on notify only, never on inject', () => {
    const payload = {
      ...session,
      text: 'x',
      data: {},
      attachments: [{ name: 'a.png', url: 'https://cdn.example.com/a.png', type: 'image' as const }],
    };
    expect(cognigyRequestBody('notify', payload)).toEqual(payload);
    expect(cognigyRequestBody('inject', payload)).toEqual({ ...session, text: 'x', data: {} });
  });
});

describe('the Cognigy API simulator checks the documented bodies', () => {
  const simulator = new CognigyApiSimulator('cognigy-key');
  const outbound = createOutboundHttp();
  let tenant: TenantConfig;
  beforeAll(async () => {
    const url = await simulator.start();
    tenant = { cognigyApiBaseUrl: url, cognigyApiKey: 'cognigy-key' } as TenantConfig;
  });
  afterAll(async () => {
    outbound.close();
    await simulator.stop();
  });

  async function post(kind: 'notify' | 'inject', body: unknown): Promise<{ status: number; text: string }> {
    const response = await fetch(`${tenant.cognigyApiBaseUrl}/new/v2.0/endpoint/${kind}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': 'cognigy-key' },
      body: JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  }

  it('accepts a notify with media attachments as the relay sends it', async () => {
    await callCognigy(outbound.postText, tenant, 'notify', {
      ...session,
      text: 'hi',
      data: { rceHandover: { sender_name: 'Anna' } },
      attachments: [{ name: 'a.png', url: 'https://cdn.example.com/a.png', type: 'image' }],
    });
    expect(simulator.notifications().at(-1)).toMatchObject({
      attachments: [{ name: 'a.png', type: 'image' }],
      data: { rceHandover: { sender_name: 'Anna' } },
    });
  });

  it.each([
    [
      'an attachment without a name',
      'notify',
      { ...session, text: '', data: {}, attachments: [{ url: 'https://cdn.example.com/a.png', type: 'image' }] },
      'attachments.0.name',
    ],
    [
      'an attachment of an unknown type',
      'notify',
      { ...session, text: '', data: {}, attachments: [{ name: 'a', url: 'https://cdn.example.com/a', type: 'pdf' }] },
      'attachments.0.type',
    ],
    [
      'a javascript: attachment url',
      'notify',
      { ...session, text: '', data: {}, attachments: [{ name: 'a', url: 'javascript:alert(1)', type: 'file' }] },
      'attachments.0.url',
    ],
    ['attachments on inject', 'inject', { ...session, text: '', data: {}, attachments: [] }, 'body'],
    ['a missing data object', 'notify', { ...session, text: 'hi' }, 'data'],
  ] as const)('refuses %s with 400', async (_name, kind, body, path) => {
    const answer = await post(kind, body);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain(path);
  });
});

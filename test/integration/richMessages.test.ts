import type { CognigySession } from '../../contract/relayApi';
import { decodeChoicePayload } from '../../contract/structuredChoice';
import { threadIdFor } from '../../relay/src/handover/identity';
import { SDK_SIGNATURE_HEADER, signSdkBody } from '../../relay/src/engage/sdkSignature';
import { tenantIdentityUsers } from '../../relay/src/engage/tenantIdentities';
import { startRelayRig, type RelayRig } from '../helpers/relayRig';
import { waitUntil } from '../helpers/waitUntil';
import { envelopeFor, signedRelayCall } from '../helpers/signedRelayCall';

/**
 * Rich messages both ways through the real relay, the Engage simulator (structured messages as
 * engage-digital-api-docs documents them) and the Cognigy API simulator.
 */

const session: CognigySession = { URLToken: 'endpoint-rich', userId: 'user-rich', sessionId: 'session-rich' };

interface QuickReply {
  title: string;
  contentType: string;
  payload: string;
}
interface GalleryItem {
  title: string;
  subtitle: string;
  imageUrl: string;
  buttons: { type: string; title: string; url?: string; payload?: string }[];
}
type DefaultMessage = { _quickReplies?: { text: string; quickReplies: QuickReply[] }; _gallery?: { type: string; items: GalleryItem[] } };
const defaultOf = (data: Record<string, unknown> | undefined): DefaultMessage | undefined =>
  (data?._cognigy as { _default?: DefaultMessage } | undefined)?._default;

describe('rich messages between Engage and Cognigy', () => {
  let journey: RelayRig;
  let threadId: string;
  let counter = 0;
  const call = (route: Parameters<typeof signedRelayCall>[2], extra: Record<string, unknown>) =>
    signedRelayCall(journey.relayUrl, journey.tenant, route, { ...envelopeFor(journey.tenant, session, `rich-${++counter}`), ...extra });
  const notifyCount = () => journey.cognigy.notifications().length;

  beforeAll(async () => {
    journey = await startRelayRig({ store: 'sqlite' });
    threadId = threadIdFor(journey.tenant.sourceId, session);
    const started = await call('startHandover', { firstMessage: 'I need help choosing a size.' });
    expect(started.status).toBe(200);
    await journey.waitForAgentCategory(threadId);
  });
  afterAll(async () => {
    await journey?.close();
  });

  it('turns an agent select into Cognigy quick replies, with the options as fallback text', async () => {
    const reply = await journey.engage.agentReply({
      threadId,
      body: 'Which size?',
      agentName: 'Anna',
      structuredContent: { type: 'select', items: [{ title: 'Small', payload: 'size_s' }, { title: 'Large' }] },
    });
    expect(reply.outcome).toBe('delivered');
    await journey.cognigy.waitFor(() => notifyCount() === 1);
    const notify = journey.cognigy.notifications()[0];
    expect(notify?.text).toBe('Which size?\n1. Small\n2. Large');
    const quick = defaultOf(notify?.data)?._quickReplies;
    expect(quick?.text).toBe('Which size?');
    expect(quick?.quickReplies.map((q) => [q.title, q.contentType])).toEqual([
      ['Small', 'postback'],
      ['Large', 'postback'],
    ]);
    expect(quick?.quickReplies.map((q) => decodeChoicePayload(q.payload))).toEqual([
      { inReplyToId: reply.relayMessageId, title: 'Small', payload: 'size_s' },
      { inReplyToId: reply.relayMessageId, title: 'Large', payload: null },
    ]);
  });

  it('marks the agent reply as read once Cognigy accepted it (status.mark_as_read with the id we answered)', async () => {
    await waitUntil(
      'agent reply read',
      () => journey.engage.thread(threadId)?.messages.some((m) => m.side === 'agent' && m.read_at !== null) === true,
    );
    const agent = journey.engage.thread(threadId)?.messages.find((m) => m.side === 'agent');
    expect(agent?.foreign_id).toBeTruthy();
    expect(journey.engage.droppedItems).toEqual([]);
  });

  it('answers Engage with in_reply_to_id and structured_reply when the user picks an option', async () => {
    const agentMessage = journey.engage.thread(threadId)?.messages.find((m) => m.side === 'agent' && m.structured_content);
    const choice = decodeChoicePayload(defaultOf(journey.cognigy.notifications()[0]?.data)?._quickReplies?.quickReplies[0]?.payload ?? '');
    expect(choice).not.toBeNull();
    const response = await call('userMessage', {
      text: choice?.title,
      structuredReply: { inReplyToId: choice?.inReplyToId, payload: choice?.payload ?? undefined },
    });
    expect(response.body).toMatchObject({ forwarded: true });
    await waitUntil(
      'the choice in Engage',
      () => journey.engage.thread(threadId)?.messages.some((m) => m.structured_reply_payload === 'size_s') === true,
    );
    const answer = journey.engage.thread(threadId)?.messages.find((m) => m.structured_reply_payload === 'size_s');
    expect(answer).toMatchObject({ side: 'customer', body: 'Small', in_reply_to_id: agentMessage?.foreign_id });
    expect(journey.engage.droppedItems).toEqual([]);
  });

  it('turns a rich_link into a one-card gallery with a link button, and skips deep links for their https fallback', async () => {
    await journey.engage.agentReply({
      threadId,
      body: '',
      structuredContent: {
        type: 'rich_link',
        title: 'Size guide',
        subtitle: 'All our sizes',
        url: 'shop://sizes',
        url_fallback: 'https://shop.example.com/sizes',
        url_text: 'Open the guide',
        attachment_url: 'https://cdn.example.com/sizes.png',
      },
    });
    await journey.cognigy.waitFor(() => notifyCount() === 2);
    const notify = journey.cognigy.notifications()[1];
    expect(defaultOf(notify?.data)?._gallery?.items).toEqual([
      {
        id: 0,
        title: 'Size guide',
        subtitle: 'All our sizes',
        imageUrl: 'https://cdn.example.com/sizes.png',
        buttons: [{ type: 'web_url', title: 'Open the guide', url: 'https://shop.example.com/sizes' }],
      },
    ]);
    expect(notify?.text).toBe('Size guide\nAll our sizes\nhttps://shop.example.com/sizes');
  });

  it('turns a carousel of templates into a gallery whose reply buttons are postbacks to the agent message', async () => {
    const reply = await journey.engage.agentReply({
      threadId,
      body: 'Two models:',
      structuredContent: {
        type: 'carousel',
        items: [
          {
            title: 'Model A',
            subtitle: 'Light',
            attachment_url: 'https://cdn.example.com/a.png',
            items: [
              { type: 'reply', title: 'Take A', payload: 'model_a' },
              { type: 'url', title: 'Details', url: 'https://shop.example.com/a' },
            ],
          },
          { title: 'Model B', items: [{ type: 'reply', title: 'Take B' }] },
        ],
      },
    });
    await journey.cognigy.waitFor(() => notifyCount() === 3);
    const notify = journey.cognigy.notifications()[2];
    const items = defaultOf(notify?.data)?._gallery?.items ?? [];
    expect(items.map((i) => i.title)).toEqual(['Model A', 'Model B']);
    expect(items[0]?.buttons[1]).toEqual({ type: 'web_url', title: 'Details', url: 'https://shop.example.com/a' });
    expect(decodeChoicePayload(items[0]?.buttons[0]?.payload ?? '')).toEqual({
      inReplyToId: reply.relayMessageId,
      title: 'Take A',
      payload: 'model_a',
    });
    expect(notify?.text).toBe('Two models:\nModel A\nLight\n- Take A\n- Details: https://shop.example.com/a\nModel B\n- Take B');
  });

  it('mirrors the bot quick replies to Engage as a select from the Bot identity', async () => {
    const response = await call('userMessage', {
      role: 'bot',
      text: 'Anything else?',
      structuredContent: {
        type: 'select',
        items: [
          { title: 'Yes', payload: 'yes' },
          { title: 'No', payload: 'no' },
        ],
      },
    });
    expect(response.body).toMatchObject({ forwarded: true });
    await waitUntil(
      'bot select in Engage',
      () => journey.engage.thread(threadId)?.messages.some((m) => m.body === 'Anything else?') === true,
    );
    const mirrored = journey.engage.thread(threadId)?.messages.find((m) => m.body === 'Anything else?');
    expect(mirrored?.side).toBe('bot');
    expect(mirrored?.structured_content).toEqual({
      type: 'select',
      items: [
        { title: 'Yes', payload: 'yes' },
        { title: 'No', payload: 'no' },
      ],
    });
  });

  it('the Engage simulator refuses structured content without its mandatory attributes, as send-api.md documents', async () => {
    const send = async (params: Record<string, unknown>) => {
      const body = JSON.stringify({ action: 'messages.create', params });
      const response = await fetch(journey.engage.realtimeEndpointUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SDK_SIGNATURE_HEADER]: signSdkBody(journey.tenant.realtimeAccessToken, body) },
        body,
      });
      return { status: response.status, text: await response.text() };
    };
    const bot = tenantIdentityUsers(journey.tenant.sourceId).bot;
    const base = { thread_id: threadId, author: bot, body: 'x' };
    expect(await send({ ...base, id: 'sc-1', structured_content: { type: 'select', items: [] } })).toEqual({
      status: 422,
      text: 'structured_content: "items" must not be empty',
    });
    expect(await send({ ...base, id: 'sc-2', structured_content: { type: 'rich_link', title: 'T' } })).toEqual({
      status: 422,
      text: 'structured_content: "url" must not be empty',
    });
    expect(await send({ ...base, id: 'sc-3', structured_content: { type: 'template', items: [] } })).toEqual({
      status: 422,
      text: 'structured_content: "title" must not be empty',
    });
    expect(await send({ ...base, id: 'sc-4', structured_content: { type: 'select', items: [{ title: 'A' }] } })).toEqual({
      status: 200,
      text: 'ok',
    });
  });

  it('drops structured content Engage does not document, and still sends the text', async () => {
    await call('userMessage', { role: 'bot', text: 'A list', structuredContent: { type: 'list', items: [] } });
    await waitUntil('bot text in Engage', () => journey.engage.thread(threadId)?.messages.some((m) => m.body === 'A list') === true);
    expect(journey.engage.thread(threadId)?.messages.find((m) => m.body === 'A list')?.structured_content).toBeNull();
  });

  it('sends user files to Engage as attachments with their file names', async () => {
    await call('userMessage', {
      text: '',
      attachments: [{ url: 'https://files.example.com/u/photo.jpg', filename: 'photo.jpg', contentType: 'image/jpeg', size: 2048 }],
    });
    await waitUntil('user file in Engage', () => journey.engage.thread(threadId)?.messages.some((m) => m.attachments.length > 0) === true);
    const message = journey.engage.thread(threadId)?.messages.find((m) => m.attachments.length > 0);
    expect(message?.attachments).toEqual([
      { url: 'https://files.example.com/u/photo.jpg', filename: 'photo.jpg', type: null, contentBytes: null },
    ]);
    expect(message?.side).toBe('customer');
  });
  it('tells the Flow who closed, which intervention and thread, and when, for its own satisfaction question', async () => {
    journey.engage.closeIntervention(threadId);
    await journey.cognigy.waitFor((calls) =>
      calls.some((c) => (c.data.handover as { status?: string } | undefined)?.status === 'completed'),
    );
    const completed = journey.cognigy.injections().find((c) => (c.data.handover as { status?: string }).status === 'completed');
    const thread = journey.engage.thread(threadId);
    const intervention = thread?.interventions[0];
    expect(completed?.data.handover).toEqual({
      status: 'completed',
      source: 'rce-handover',
      threadId,
      agentId: intervention?.user_id,
      interventionId: intervention?.id,
      engageThreadId: thread?.id,
      endedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) as unknown as string,
    });
  });
});

import { decodeChoicePayload, encodeChoicePayload } from '../../contract/structuredChoice';
import { structuredToCognigy } from '../../relay/src/cognigy/structuredContent';
import { agentReplyToNotify } from '../../relay/src/handover/agentReplyText';
import { agentReplyParamsSchema } from '../../relay/src/engage/sourceSdkProtocol';

const reply = (params: Record<string, unknown>) => agentReplyParamsSchema.parse({ thread_id: 't1', content_id: 'c1', ...params });

describe('Engage structured content → Cognigy default-channel data', () => {
  it('a template becomes a one-card gallery: url buttons as web_url (deep links via url_fallback, none dropped), reply buttons as postbacks', () => {
    const result = structuredToCognigy(
      {
        type: 'template',
        title: 'Your order',
        subtitle: 'Shipped today',
        attachment_url: 'https://cdn.example.com/box.jpg',
        items: [
          { type: 'url', title: 'Track', url: 'shop://track/1', url_fallback: 'https://shop.example.com/track/1' },
          { type: 'url', title: 'App only', url: 'shop://only' },
          { type: 'reply', title: 'Thanks', payload: 'thanks' },
        ],
      },
      '',
      'reply-9',
    );
    const item = result?.defaultMessage._gallery?.items[0];
    expect(item).toMatchObject({ id: 0, title: 'Your order', subtitle: 'Shipped today', imageUrl: 'https://cdn.example.com/box.jpg' });
    expect(item?.buttons.map((b) => [b.type, b.title, b.url])).toEqual([
      ['web_url', 'Track', 'https://shop.example.com/track/1'],
      ['postback', 'Thanks', undefined],
    ]);
    expect(decodeChoicePayload(item?.buttons[1]?.payload ?? '')).toEqual({ inReplyToId: 'reply-9', title: 'Thanks', payload: 'thanks' });
    expect(result?.fallbackText).toBe('Your order\nShipped today\n- Track: https://shop.example.com/track/1\n- App only\n- Thanks');
  });

  it('returns null for types it does not map and for malformed content (the body is then sent as it is)', () => {
    expect(structuredToCognigy({ type: 'list', items: [] }, 'x', 'r')).toBeNull();
    expect(structuredToCognigy({ type: 'select', items: [] }, 'x', 'r')).toBeNull();
    expect(structuredToCognigy({ type: 'select' }, 'x', 'r')).toBeNull();
    const notify = agentReplyToNotify(reply({ body: 'Plain', structured_content: { type: 'list', items: [] } }), 'r');
    expect(notify).toEqual({ text: 'Plain', attachments: [] });
  });

  it('keeps HTML bodies as text in the quick replies and the fallback', () => {
    const notify = agentReplyToNotify(
      reply({ body: '<p>Which <b>size</b>?</p>', format: 'html', structured_content: { type: 'select', items: [{ title: 'S' }] } }),
      'r1',
    );
    expect(notify?.text).toBe('Which size?\n1. S');
    expect(notify?.defaultMessage?._quickReplies?.text).toBe('Which size?');
  });

  it('a rich_link without body or attachments still reaches the user', () => {
    const notify = agentReplyToNotify(
      reply({ body: null, structured_content: { type: 'rich_link', title: 'Docs', url: 'https://docs.example.com/a' } }),
      'r2',
    );
    expect(notify?.text).toBe('Docs\nhttps://docs.example.com/a');
    expect(notify?.defaultMessage?._gallery?.items[0]?.buttons).toEqual([
      { type: 'web_url', title: 'docs.example.com', url: 'https://docs.example.com/a' },
    ]);
  });

  it('choice payloads round-trip and reject anything else', () => {
    const choice = { inReplyToId: 'r', title: 'Größe M', payload: null };
    expect(decodeChoicePayload(encodeChoicePayload(choice))).toEqual(choice);
    expect(decodeChoicePayload('rce-choice:' + Buffer.from('{"r":1}').toString('base64url'))).toBeNull();
    expect(decodeChoicePayload('hello')).toBeNull();
  });
});

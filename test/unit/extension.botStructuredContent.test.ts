import { botStructuredContent } from '../../extension/src/botStructuredContent';
import { decideMirror } from '../../extension/src/nodes/mirrorToRce';
import { structuredContentSchema } from '../../relay/src/cognigy/structuredContent';

const sayData = (defaultMessage: Record<string, unknown>) => ({ _cognigy: { _default: defaultMessage } });

describe('bot quick replies and cards → Engage structured content', () => {
  it('maps quick replies to a select (title and payload), keeping the question as text', () => {
    const result = botStructuredContent(
      sayData({
        _quickReplies: {
          type: 'quick_replies',
          text: 'Pick one',
          quickReplies: [
            { id: 0, contentType: 'postback', title: 'Yes', payload: 'YES' },
            { id: 1, contentType: 'postback', title: 'No', payload: '' },
          ],
        },
      }),
    );
    expect(result).toEqual({
      text: 'Pick one',
      structuredContent: { type: 'select', items: [{ title: 'Yes', payload: 'YES' }, { title: 'No' }] },
    });
  });

  it('maps text with buttons to a template (postback → reply, web_url → url; phone numbers dropped)', () => {
    const result = botStructuredContent({
      _buttons: {
        type: 'buttons',
        text: 'How can I help?',
        buttons: [
          { type: 'postback', title: 'Track', payload: 'track' },
          { type: 'web_url', title: 'FAQ', url: 'https://example.com/faq' },
          { type: 'phone_number', title: 'Call', payload: '+4912345' },
        ],
      },
    });
    expect(result?.structuredContent).toEqual({
      type: 'template',
      title: 'How can I help?',
      items: [
        { type: 'reply', title: 'Track', payload: 'track' },
        { type: 'url', title: 'FAQ', url: 'https://example.com/faq' },
      ],
    });
  });

  it('maps a gallery to a carousel of templates with attachment_url images, and one card to a template', () => {
    const two = botStructuredContent(
      sayData({
        _gallery: {
          type: 'carousel',
          items: [
            {
              title: 'A',
              subtitle: 'first',
              imageUrl: 'https://cdn.example.com/a.png',
              buttons: [{ type: 'postback', title: 'Take A', payload: 'a' }],
            },
            { title: 'B', subtitle: '', imageUrl: '', buttons: [] },
          ],
        },
      }),
    );
    expect(two).toEqual({
      text: 'A\nB',
      structuredContent: {
        type: 'carousel',
        items: [
          {
            title: 'A',
            subtitle: 'first',
            attachment_url: 'https://cdn.example.com/a.png',
            items: [{ type: 'reply', title: 'Take A', payload: 'a' }],
          },
          { title: 'B' },
        ],
      },
    });
    const one = botStructuredContent(
      sayData({ _gallery: { type: 'carousel', fallbackText: 'Our offer', items: [{ title: 'Only', imageUrl: 'javascript:x' }] } }),
    );
    expect(one).toEqual({ text: 'Our offer', structuredContent: { type: 'template', title: 'Only' } });
  });

  it('produces content the relay accepts as documented structured content', () => {
    for (const data of [
      sayData({
        _quickReplies: {
          text: 'q',
          quickReplies: Array.from({ length: 20 }, (_, i) => ({ title: `Option ${i}`.repeat(20), payload: `p${i}` })),
        },
      }),
      sayData({
        _gallery: {
          items: [{ title: 'x', buttons: Array.from({ length: 6 }, (_, i) => ({ type: 'postback', title: `b${i}` })) }, { title: 'y' }],
        },
      }),
    ]) {
      const result = botStructuredContent(data);
      expect(structuredContentSchema.safeParse(result?.structuredContent).success).toBe(true);
    }
  });

  it('returns null for data without quick replies, buttons or gallery', () => {
    expect(botStructuredContent({})).toBeNull();
    expect(botStructuredContent(sayData({ _image: { type: 'image', imageUrl: 'https://x/y.png' } }))).toBeNull();
    expect(botStructuredContent('text')).toBeNull();
  });

  it('the Mirror node sends the bot quick replies with the bot text, or with their own text when the bot text is empty', () => {
    const botData = sayData({ _quickReplies: { text: 'Pick one', quickReplies: [{ title: 'Yes', payload: 'YES' }] } });
    const base = { input: { text: '', data: {} }, handoverActive: false, mirrorUserInput: false };
    expect(decideMirror({ ...base, botText: 'Do you agree?', botData })).toEqual({
      action: 'send',
      message: {
        role: 'bot',
        text: 'Do you agree?',
        attachments: [],
        structuredContent: { type: 'select', items: [{ title: 'Yes', payload: 'YES' }] },
      },
    });
    expect(decideMirror({ ...base, botText: '', botData })).toMatchObject({ action: 'send', message: { text: 'Pick one' } });
    expect(decideMirror({ ...base, botText: '', botData: {} })).toEqual({ action: 'skip', reason: 'nothing_to_send' });
  });
});

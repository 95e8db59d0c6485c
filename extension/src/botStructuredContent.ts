/**
 * A bot's quick replies, buttons or gallery as Cognigy's default channel carries them
 * (`_cognigy._default._quickReplies | _buttons | _gallery`, Cognigy IDefaultMessage) → Engage
 * structured content for the Source SDK (engage-digital-api-docs docs/sdks/source-sdk/
 * structured-messages.md: select ≤ 13 items, template ≤ 4 buttons, carousel of templates,
 * titles ≤ 80 characters, images as `attachment_url`). Lets agents see what the user was offered.
 */

type Json = Record<string, unknown>;
const obj = (v: unknown): Json | null => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : null);
const str = (v: unknown, max: number): string | undefined =>
  typeof v === 'string' && v.trim() !== '' ? v.trim().slice(0, max) : undefined;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const webUrl = (v: unknown): string | undefined => {
  const url = str(v, 2048);
  return url && URL.canParse(url) && ['https:', 'http:'].includes(new URL(url).protocol) ? url : undefined;
};

export interface BotStructuredMessage {
  /** The text agents see (and channels without structured content). */
  text: string;
  structuredContent: Json;
}

/** Cognigy buttons → template items: postback → reply, web_url → url; phone numbers have no Engage equivalent. */
function templateItems(buttons: unknown): Json[] {
  const items: Json[] = [];
  for (const raw of list(buttons)) {
    const button = obj(raw);
    const title = str(button?.title, 80);
    if (!button || !title) continue;
    if (button.type === 'web_url') {
      const url = webUrl(button.url);
      if (url) items.push({ type: 'url', title, url });
    } else if (button.type === 'postback') {
      const payload = str(button.payload, 1000);
      items.push(payload ? { type: 'reply', title, payload } : { type: 'reply', title });
    }
    if (items.length === 4) break;
  }
  return items;
}

function card(raw: unknown): Json | null {
  const item = obj(raw);
  const title = str(item?.title, 350);
  if (!item || !title) return null;
  const out: Json = { title };
  const subtitle = str(item.subtitle, 1000);
  if (subtitle) out.subtitle = subtitle;
  const image = webUrl(item.imageUrl);
  if (image) out.attachment_url = image;
  const items = templateItems(item.buttons);
  if (items.length) out.items = items;
  return out;
}

/** Accepts the Say node's data (`{_cognigy: {_default: …}}`) or the `_default` object itself. */
export function botStructuredContent(data: unknown): BotStructuredMessage | null {
  const root = obj(data);
  const message = obj(obj(obj(root?._cognigy)?._default)) ?? root;
  if (!message) return null;

  const quick = obj(message._quickReplies);
  if (quick) {
    const items = list(quick.quickReplies)
      .map(obj)
      .flatMap((q) => {
        const title = str(q?.title, 80);
        const payload = str(q?.payload, 1000);
        return title ? [payload ? { title, payload } : { title }] : [];
      })
      .slice(0, 13);
    if (items.length) return { text: str(quick.text, 20000) ?? '', structuredContent: { type: 'select', items } };
  }

  const buttons = obj(message._buttons);
  if (buttons) {
    const title = str(buttons.text, 350);
    const items = templateItems(buttons.buttons);
    if (title && items.length) return { text: title, structuredContent: { type: 'template', title, items } };
  }

  const gallery = obj(message._gallery);
  if (gallery) {
    const cards = list(gallery.items)
      .map(card)
      .filter((c): c is Json => c !== null)
      .slice(0, 10);
    const text = str(gallery.fallbackText, 20000) ?? cards.map((c) => String(c.title)).join('\n');
    if (cards.length === 1) return { text, structuredContent: { type: 'template', ...cards[0] } };
    if (cards.length > 1) return { text, structuredContent: { type: 'carousel', items: cards } };
  }
  return null;
}

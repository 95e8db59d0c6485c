import { z } from 'zod';
import { encodeChoicePayload } from '../../../contract/structuredChoice';

/**
 * Engage structured messages (engage-digital-api-docs docs/sdks/source-sdk/structured-messages.md:
 * select, rich_link, template, carousel; Source SDK sources get `attachment_url`, never an
 * attachment id) → Cognigy's default-channel message data `_cognigy._default` (`_quickReplies`,
 * `_gallery`; shapes of Cognigy's IDefaultMessage: quick replies `{id, title, contentType:
 * "postback", payload}`, gallery `{type: "carousel", items: [{title, subtitle, imageUrl, buttons}]}`,
 * buttons `{type: "postback"|"web_url", title, payload?, url?}`).
 *
 * A postback carries an encoded choice (see contract/structuredChoice.ts) so the Handover node can
 * answer Engage with `in_reply_to_id` + `structured_reply.payload`, the documented reply.
 */

const text = (max: number) =>
  z
    .string()
    .max(max * 4)
    .transform((s) => s.slice(0, max));
const webUrl = z
  .string()
  .max(2048)
  .refine((u) => URL.canParse(u) && ['https:', 'http:'].includes(new URL(u).protocol), 'must be an http(s) URL');

const selectItem = z.object({ title: text(80), payload: text(1000).optional().nullable() });
const templateButton = z.object({
  type: z.enum(['url', 'reply']),
  title: text(80),
  payload: text(1000).optional().nullable(),
  url: z.string().max(2048).optional().nullable(),
  url_fallback: z.string().max(2048).optional().nullable(),
});
const card = z.object({
  title: text(350),
  subtitle: text(1000).optional().nullable(),
  url: z.string().max(2048).optional().nullable(),
  url_fallback: z.string().max(2048).optional().nullable(),
  url_text: text(80).optional().nullable(),
  attachment_url: z.string().max(2048).optional().nullable(),
  items: z.array(templateButton).max(4).optional().nullable(),
});

export const structuredContentSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('select'), items: z.array(selectItem).min(1).max(13) }),
  card.extend({ type: z.literal('rich_link'), url: z.string().max(2048) }),
  card.extend({ type: z.literal('template') }),
  z.object({ type: z.literal('carousel'), items: z.array(card).min(1).max(10) }),
]);
export type StructuredContent = z.infer<typeof structuredContentSchema>;
type Card = z.infer<typeof card>;

export interface CognigyButton {
  type: 'postback' | 'web_url';
  title: string;
  payload?: string;
  url?: string;
}
export interface CognigyGalleryItem {
  id: number;
  title: string;
  subtitle: string;
  imageUrl: string;
  buttons: CognigyButton[];
}
export interface CognigyDefaultMessage {
  _quickReplies?: {
    type: 'quick_replies';
    text: string;
    quickReplies: { id: number; title: string; contentType: 'postback'; payload: string }[];
  };
  _gallery?: { type: 'carousel'; fallbackText: string; items: CognigyGalleryItem[] };
}

export interface StructuredForCognigy {
  /** Goes to notify `data._cognigy._default`. */
  defaultMessage: CognigyDefaultMessage;
  /** The text for channels that render neither quick replies nor galleries. */
  fallbackText: string;
}

/** The first http(s) URL among the candidates (a deep link such as github:// falls back to url_fallback). */
function firstWebUrl(...candidates: (string | null | undefined)[]): string | null {
  for (const candidate of candidates) if (candidate && webUrl.safeParse(candidate).success) return candidate;
  return null;
}

function cardToItem(c: Card, index: number, replyId: string, linkLabel?: string): CognigyGalleryItem {
  const buttons: CognigyButton[] = [];
  for (const item of c.items ?? []) {
    if (item.type === 'url') {
      const url = firstWebUrl(item.url, item.url_fallback);
      if (url) buttons.push({ type: 'web_url', title: item.title, url });
    } else {
      buttons.push({
        type: 'postback',
        title: item.title,
        payload: encodeChoicePayload({ inReplyToId: replyId, title: item.title, payload: item.payload ?? null }),
      });
    }
  }
  const link = firstWebUrl(c.url, c.url_fallback);
  if (link && linkLabel !== undefined) buttons.unshift({ type: 'web_url', title: c.url_text || linkLabel, url: link });
  return { id: index, title: c.title, subtitle: c.subtitle ?? '', imageUrl: firstWebUrl(c.attachment_url) ?? '', buttons };
}

function cardFallback(c: Card): string[] {
  const lines = [c.title];
  if (c.subtitle) lines.push(c.subtitle);
  const link = firstWebUrl(c.url, c.url_fallback);
  if (link) lines.push(link);
  for (const item of c.items ?? []) {
    const url = item.type === 'url' ? firstWebUrl(item.url, item.url_fallback) : null;
    lines.push(url ? `- ${item.title}: ${url}` : `- ${item.title}`);
  }
  return lines;
}

/**
 * The Cognigy rendering of an agent's structured message, or null when it is not one we map
 * (Engage would not send other types to a Source SDK source; unknown shapes fall back to the body).
 * `replyId` is the id we answered Engage with for this reply: the user's choice refers to it.
 */
export function structuredToCognigy(raw: unknown, body: string, replyId: string): StructuredForCognigy | null {
  const parsed = structuredContentSchema.safeParse(raw);
  if (!parsed.success) return null;
  const content = parsed.data;
  switch (content.type) {
    case 'select': {
      const quickReplies = content.items.map((item, id) => ({
        id,
        title: item.title,
        contentType: 'postback' as const,
        payload: encodeChoicePayload({ inReplyToId: replyId, title: item.title, payload: item.payload ?? null }),
      }));
      const fallbackText = [body, ...content.items.map((item, i) => `${i + 1}. ${item.title}`)].filter(Boolean).join('\n');
      return { defaultMessage: { _quickReplies: { type: 'quick_replies', text: body, quickReplies } }, fallbackText };
    }
    case 'rich_link': {
      const host = firstWebUrl(content.url, content.url_fallback);
      const label = host ? new URL(host).hostname : 'Open';
      const fallbackText = [body, ...cardFallback(content)].filter(Boolean).join('\n');
      return {
        defaultMessage: { _gallery: { type: 'carousel', fallbackText, items: [cardToItem(content, 0, replyId, label)] } },
        fallbackText,
      };
    }
    case 'template': {
      const fallbackText = [body, ...cardFallback(content)].filter(Boolean).join('\n');
      return { defaultMessage: { _gallery: { type: 'carousel', fallbackText, items: [cardToItem(content, 0, replyId)] } }, fallbackText };
    }
    case 'carousel': {
      const fallbackText = [body, ...content.items.flatMap((c) => cardFallback(c))].filter(Boolean).join('\n');
      return {
        defaultMessage: { _gallery: { type: 'carousel', fallbackText, items: content.items.map((c, i) => cardToItem(c, i, replyId)) } },
        fallbackText,
      };
    }
  }
}

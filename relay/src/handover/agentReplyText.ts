import type { AgentReplyParams } from '../engage/sourceSdkProtocol';

/** Agent HTML → plain text for chat endpoints (Engage sends HTML for html-format sources). */
export function htmlToText(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * A notify attachment as Cognigy's REST API takes it: `INotifyRestDataBody_2_0.attachments`
 * items are media attachments `{name, url, type: "image"|"video"|"audio"|"file"|…, caption?}`
 * (`@cognigy/rest-api-client` types: IMediaAttachment / TGenericAttachments).
 */
export interface CognigyAttachment {
  name: string;
  url: string;
  type: 'image' | 'video' | 'audio' | 'file';
}

export interface NotifyContent {
  text: string;
  attachments: CognigyAttachment[];
}

/** Engage's attachment type ("image", "audio", "video", or anything else) → Cognigy's media type. */
function cognigyMediaType(type: string | null | undefined): CognigyAttachment['type'] {
  return type === 'image' || type === 'video' || type === 'audio' ? type : 'file';
}

function nameOf(url: URL, filename: string | null | undefined): string {
  const named = filename?.trim();
  if (named) return named;
  const last = decodeURIComponent(url.pathname.split('/').filter(Boolean).pop() ?? '');
  return last || 'attachment';
}

/** Only web links reach the user's channel (a data: or javascript: URL never does). */
function webUrl(raw: string): URL | null {
  try {
    const url = new URL(raw);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url : null;
  } catch {
    return null;
  }
}

/** What the user sees of an agent reply; null when there is nothing to show. */
export function agentReplyToNotify(params: AgentReplyParams): NotifyContent | null {
  const body = params.body ?? '';
  const text = params.format === 'html' ? htmlToText(body) : body.trim();
  const attachments: CognigyAttachment[] = [];
  for (const attachment of params.attachments ?? []) {
    const url = webUrl(attachment.url);
    if (url) attachments.push({ name: nameOf(url, attachment.filename), url: url.href, type: cognigyMediaType(attachment.type) });
  }
  if (!text && attachments.length === 0) return null;
  // Channels that render only text still get a usable link for each attachment.
  const links = attachments.map((a) => `${a.name}: ${a.url}`).join('\n');
  return { text: [text, links].filter(Boolean).join('\n'), attachments };
}

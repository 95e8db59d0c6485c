import { structuredToCognigy, type CognigyDefaultMessage } from '../cognigy/structuredContent';
import type { AgentReplyParams } from '../engage/sourceSdkProtocol';

/** Longest agent HTML converted (Engage's own reply bodies are far shorter; the schema allows 100,000). */
export const MAX_HTML_CHARS = 100_000;

const LINE_BREAK_TAGS = new Set(['br', '/p', '/div', '/li']);
const ENTITIES: Record<string, string> = { nbsp: ' ', lt: '<', gt: '>', quot: '"', '#39': "'", amp: '&' };

/**
 * Agent HTML → plain text for chat endpoints (Engage sends HTML for html-format sources).
 * One left-to-right pass, so the time is linear in the input: tags are dropped (`<br>`, `</p>`,
 * `</div>`, `</li>` become line breaks), a `<` with no `>` after it stays text, and the few
 * entities Engage emits are decoded once (`&amp;lt;` stays `&lt;`).
 */
export function htmlToText(html: string): string {
  const input = html.length > MAX_HTML_CHARS ? html.slice(0, MAX_HTML_CHARS) : html;
  let out = '';
  let i = 0;
  // Once no '>' is left, every later '<' is text: remembering it keeps the pass linear.
  let noCloseAfter = input.length;
  while (i < input.length) {
    const open = input.indexOf('<', i);
    if (open === -1 || open >= noCloseAfter) {
      out += input.slice(i);
      break;
    }
    const close = input.indexOf('>', open + 1);
    if (close === -1) {
      noCloseAfter = open;
      out += input.slice(i);
      break;
    }
    out += input.slice(i, open);
    if (LINE_BREAK_TAGS.has(tagName(input, open + 1, close))) out += '\n';
    i = close + 1;
  }
  return out
    .replace(/&(nbsp|lt|gt|quot|#39|amp);/g, (_m, name: string) => ENTITIES[name] ?? '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Lower-cased name of the tag between `from` and `to` ('/p' for a closing p), without attributes. */
function tagName(text: string, from: number, to: number): string {
  let end = from;
  if (text.charCodeAt(end) === 47) end++; // '/'
  while (end < to && /[A-Za-z0-9]/.test(text.charAt(end))) end++;
  return text.slice(from, end).toLowerCase();
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
  /** Quick replies or a gallery for `data._cognigy._default`, when the agent sent a structured message. */
  defaultMessage?: CognigyDefaultMessage;
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

/**
 * What the user sees of an agent reply; null when there is nothing to show. `replyId` is the id the
 * relay answers Engage with: quick replies built from a structured message refer to it.
 */
export function agentReplyToNotify(params: AgentReplyParams, replyId = ''): NotifyContent | null {
  const body = params.body ?? '';
  const bodyText = params.format === 'html' ? htmlToText(body) : body.trim();
  const structured = params.structured_content ? structuredToCognigy(params.structured_content, bodyText, replyId) : null;
  // Channels without quick replies or galleries get the options and links as text.
  const text = structured ? structured.fallbackText : bodyText;
  const attachments: CognigyAttachment[] = [];
  for (const attachment of params.attachments ?? []) {
    const url = webUrl(attachment.url);
    if (url) attachments.push({ name: nameOf(url, attachment.filename), url: url.href, type: cognigyMediaType(attachment.type) });
  }
  if (!text && attachments.length === 0) return null;
  // Channels that render only text still get a usable link for each attachment (a plain reply, the common case, has none).
  const links = attachments.length === 0 ? '' : attachments.map((a) => `${a.name}: ${a.url}`).join('\n');
  const content: NotifyContent = { text: links ? [text, links].filter(Boolean).join('\n') : text, attachments };
  if (structured) content.defaultMessage = structured.defaultMessage;
  return content;
}

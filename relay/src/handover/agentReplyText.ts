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

export interface NotifyContent {
  text: string;
  data: { attachments?: { url: string; type: string | null; filename: string | null }[] };
}

/** What the user sees of an agent reply; null when there is nothing to show. */
export function agentReplyToNotify(params: AgentReplyParams): NotifyContent | null {
  const body = params.body ?? '';
  const text = params.format === 'html' ? htmlToText(body) : body.trim();
  const attachments = (params.attachments ?? []).map((a) => ({ url: a.url, type: a.type ?? null, filename: a.filename ?? null }));
  if (!text && attachments.length === 0) return null;
  const data: NotifyContent['data'] = attachments.length ? { attachments } : {};
  // Channels that render only text still get a usable link for each attachment.
  const fallback = attachments.map((a) => a.filename ? `${a.filename}: ${a.url}` : a.url).join('\n');
  return { text: text || fallback, data };
}

import { decodeChoicePayload } from '../../contract/structuredChoice';
import type { RelayCallBody } from './relayClient';

/**
 * What a user input during a handover becomes for Engage: text, files and, when the user clicked
 * an option of an agent's structured message, the documented structured reply.
 *
 * Where channels put files (`input.data`):
 * - Cognigy Webchat v3 uploads: `attachments: [{runtimeFileId, fileName, mimeType, size, url}]`
 *   (Cognigy chat-components IUploadFileAttachmentData);
 * - the Webchat file-upload plugin: `file: "<url>"` (Cognigy/WebchatPlugins plugins/file-upload);
 * - other channels and our own: `attachments: [{url, filename|name}]` or plain URLs.
 * Limits are Engage's for messaging attachments (engage-digital-api-docs
 * docs/interactions/web-messaging/attachments.md): smaller than 10 MB, listed extensions only.
 */

export const MAX_TEXT = 20000;
const MAX_FILES = 10;

export interface AttachmentLimits {
  maxBytes: number;
  /** Lower-case extensions without the dot. */
  extensions: ReadonlySet<string>;
}

export const ENGAGE_ATTACHMENT_LIMITS: AttachmentLimits = {
  maxBytes: 10 * 1024 * 1024,
  extensions: new Set(
    'mp3 bmp gif jpg jpeg png tif tiff eml pdf key odp otp pps ppt pptx pot csv numbers ods ots xls xlsm xlsx xlc xlt xltm xltx avi flv m4v mkv mov mp4 mpg qt wmv doc docm docx dotm dotx pages odt ott'.split(
      ' ',
    ),
  ),
};

/** Extensions Engage accepts for common MIME types, for files whose name has no extension. */
const EXTENSION_OF_TYPE: Readonly<Record<string, string>> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/gif': 'gif',
  'image/bmp': 'bmp',
  'image/tiff': 'tif',
  'application/pdf': 'pdf',
  'audio/mpeg': 'mp3',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
  'text/csv': 'csv',
};

export interface UserFile {
  url: string;
  filename?: string;
  contentType?: string;
  size?: number;
}

export interface RefusedFile {
  name: string;
  reason: 'too_large' | 'type_not_allowed';
}

export interface UserMessageParts {
  text: string;
  attachments: UserFile[];
  structuredReply?: { inReplyToId: string; payload?: string };
  refused: RefusedFile[];
}

const str = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

function webUrl(value: unknown): string | undefined {
  const url = str(value);
  if (!url || url.length > 2048 || !URL.canParse(url)) return undefined;
  return ['https:', 'http:'].includes(new URL(url).protocol) ? url : undefined;
}

function candidateFiles(data: unknown): UserFile[] {
  if (data === null || typeof data !== 'object') return [];
  const { attachments, file } = data as { attachments?: unknown; file?: unknown };
  const items: unknown[] = Array.isArray(attachments) ? [...attachments] : [];
  if (typeof file === 'string') items.push(file);
  const files: UserFile[] = [];
  for (const item of items) {
    const record = item !== null && typeof item === 'object' ? (item as Record<string, unknown>) : {};
    const url = webUrl(typeof item === 'string' ? item : record.url);
    if (!url) continue;
    const out: UserFile = { url };
    const filename = str(record.fileName) ?? str(record.filename) ?? str(record.name);
    if (filename) out.filename = filename.slice(0, 256);
    const contentType = str(record.mimeType) ?? str(record.contentType) ?? str(record.type);
    if (contentType && contentType.includes('/')) out.contentType = contentType.slice(0, 128);
    if (typeof record.size === 'number' && Number.isInteger(record.size) && record.size >= 0) out.size = record.size;
    files.push(out);
  }
  return files;
}

function displayName(file: UserFile): string {
  if (file.filename) return file.filename;
  const last = new URL(file.url).pathname.split('/').filter(Boolean).pop();
  return last ? decodeURIComponent(last) : 'file';
}

function extensionOf(file: UserFile): string | undefined {
  const fromName = /\.([a-z0-9]+)$/i.exec(displayName(file))?.[1]?.toLowerCase();
  return fromName ?? (file.contentType ? EXTENSION_OF_TYPE[file.contentType.toLowerCase()] : undefined);
}

/** Why Engage would refuse the file; null when it passes (a size the channel did not report passes). */
export function refusalOf(file: UserFile, limits: AttachmentLimits = ENGAGE_ATTACHMENT_LIMITS): RefusedFile['reason'] | null {
  if (file.size !== undefined && file.size >= limits.maxBytes) return 'too_large';
  const extension = extensionOf(file);
  if (!extension || !limits.extensions.has(extension)) return 'type_not_allowed';
  return null;
}

export function userMessageParts(
  input: { text?: unknown; data?: unknown },
  limits: AttachmentLimits = ENGAGE_ATTACHMENT_LIMITS,
): UserMessageParts {
  const rawText = typeof input.text === 'string' ? input.text : '';
  const choice = decodeChoicePayload(rawText.trim());
  const parts: UserMessageParts = { text: choice ? choice.title : rawText.slice(0, MAX_TEXT), attachments: [], refused: [] };
  if (choice)
    parts.structuredReply = choice.payload
      ? { inReplyToId: choice.inReplyToId, payload: choice.payload }
      : { inReplyToId: choice.inReplyToId };
  for (const file of candidateFiles(input.data)) {
    const reason = refusalOf(file, limits);
    if (reason) parts.refused.push({ name: displayName(file), reason });
    else if (parts.attachments.length < MAX_FILES) parts.attachments.push(file);
  }
  // The agent still learns that a file was refused, so the conversation makes sense on their side.
  if (parts.refused.length > 0 && parts.text.trim() === '' && parts.attachments.length === 0) {
    parts.text = `[The customer tried to send ${parts.refused.map((r) => r.name).join(', ')}, which could not be delivered.]`;
  }
  return parts;
}

/** The message the user reads when files were refused. */
export function refusalMessage(refused: readonly RefusedFile[], limits: AttachmentLimits = ENGAGE_ATTACHMENT_LIMITS): string {
  const megabytes = Math.round(limits.maxBytes / (1024 * 1024));
  const lines = refused.map((r) =>
    r.reason === 'too_large'
      ? `"${r.name}" is too large (the limit is ${megabytes} MB).`
      : `"${r.name}" has a file type the agent cannot receive.`,
  );
  return `Sorry, your file could not be sent to the agent: ${lines.join(' ')} Allowed: images, PDF, Office documents, audio and video.`;
}

/**
 * The Handover node's user-message request: one call. Tells the user (api.say) about refused files
 * and returns the body for the relay's userMessage route.
 */
export function userMessageRequest(
  input: { text?: unknown; data?: unknown },
  api: { say?: (text: string) => unknown },
): RelayCallBody<'userMessage'> {
  const parts = userMessageParts(input);
  if (parts.refused.length > 0) api.say?.(refusalMessage(parts.refused));
  return {
    role: 'user',
    text: parts.text,
    attachments: parts.attachments,
    ...(parts.structuredReply ? { structuredReply: parts.structuredReply } : {}),
  };
}

import { z } from 'zod';

/**
 * A file the end user sent, as the extension forwards it and the relay puts it on the Engage
 * message. The one definition: the contract's user-message body, the extension's reading of
 * `input.data.attachments` and the engine's message job all use it. An object schema so it can
 * grow optional fields (e.g. a content type) with `.extend` without breaking older senders.
 */
export const userAttachmentSchema = z.object({
  url: z.string().url().max(2048),
  filename: z.string().max(256).optional(),
  /** MIME type as the channel reported it (e.g. "image/png"). */
  contentType: z.string().max(128).optional(),
  /** Bytes, when the channel reported it. */
  size: z.number().int().nonnegative().optional(),
});
export type UserAttachment = z.infer<typeof userAttachmentSchema>;

import { z } from 'zod';

/**
 * The postback payload of a quick reply or card button that the relay builds from an agent's
 * structured message. Cognigy sends a clicked postback back into the Flow as the input text, so
 * the payload carries what the Handover node needs to answer Engage the documented way
 * (objects.md Messages: `in_reply_to_id` of the agent message + `structured_reply.payload`):
 * `rce-choice:` + base64url(JSON {r: reply id, t: title, p: Engage payload or null}).
 */

export const CHOICE_PREFIX = 'rce-choice:';

export interface StructuredChoice {
  /** The id the relay answered Engage with for the agent's structured message. */
  inReplyToId: string;
  /** The option's title: what the agent reads as the user's message. */
  title: string;
  /** The option's Engage payload; null when the agent's item had none. */
  payload: string | null;
}

const wireSchema = z.object({
  r: z.string().min(1).max(256),
  t: z.string().max(320),
  p: z.string().max(4000).nullable(),
});

export function encodeChoicePayload(choice: StructuredChoice): string {
  const wire = { r: choice.inReplyToId, t: choice.title, p: choice.payload };
  return CHOICE_PREFIX + Buffer.from(JSON.stringify(wire), 'utf8').toString('base64url');
}

/** The choice a postback text encodes; null for any other text (typed by the user, or tampered). */
export function decodeChoicePayload(text: string): StructuredChoice | null {
  if (!text.startsWith(CHOICE_PREFIX) || text.length > 8000) return null;
  try {
    const json: unknown = JSON.parse(Buffer.from(text.slice(CHOICE_PREFIX.length), 'base64url').toString('utf8'));
    const wire = wireSchema.safeParse(json);
    return wire.success ? { inReplyToId: wire.data.r, title: wire.data.t, payload: wire.data.p } : null;
  } catch {
    return null;
  }
}

import type { Conversation } from './types';

/** Entries kept (the longest unparsed dropped first): ~2 KB each with their text, so at most ~10 MB. */
export const PARSED_CONVERSATIONS_SIZE = 5_000;

/**
 * The last text read of each conversation key with what it parsed to (JSON + zod), so reading the
 * same text again skips the parse: an agent reply reads its conversation and, once the chat is
 * active, never changes it (issue 20). Every read still goes to the store (other relays and the
 * CLI write there); only text equal to what was parsed is answered from here, so nothing can be
 * stale. Both stores use it.
 *
 * Entries are deeply frozen and handed out as they are: a caller cannot change what the next
 * caller reads (the engine copies before it changes anything).
 */
export class ParsedConversations {
  private readonly entries = new Map<string, { text: string; conversation: Conversation }>();

  constructor(private readonly capacity: number = PARSED_CONVERSATIONS_SIZE) {}

  /** The conversation `text` (read at `key`) stands for. */
  parse(key: string, text: string, parse: (text: string) => Conversation): Conversation {
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.text === text) return hit.conversation;
    const conversation = deepFreeze(parse(text));
    if (this.capacity <= 0) return conversation;
    // Most recently parsed last (a Map keeps insertion order): a hit costs no reordering.
    this.entries.delete(key);
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { text, conversation });
    return conversation;
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

import type Database from 'better-sqlite3';
import { z } from 'zod';
import type { Conversation } from '../types';

/**
 * Conversations as this connection last read them, parsed (JSON + zod) once instead of on every read:
 * an agent reply reads its conversation and, once the chat is active, never writes it (issue 20).
 *
 * Valid only while nothing else wrote the file. `PRAGMA data_version` changes when another
 * connection (another relay, `relay dead-letter`, a test's second handle) commits; when it changed,
 * every entry is dropped. This connection's own writes do not change it, so the store keeps the text
 * of each conversation it writes (`written`, parsed on the next read exactly as a read of the row
 * would be) and drops what it deletes or whatever a rolled-back write may have left (`clear`).
 *
 * Entries are deeply frozen and handed out as they are: a caller cannot change what the next
 * caller reads (the engine copies before it changes anything; strict mode throws on a write).
 */

/** Entries kept (least recently used dropped first): ~1 KB each, so at most a few MB. */
export const CONVERSATION_CACHE_SIZE = 5_000;

const dataVersionSchema = z.number().int();

/** A conversation as read (parsed, frozen) or as this connection wrote it (JSON text, parsed when first read). */
type Entry = Conversation | string;

export class ConversationCache {
  private readonly entries = new Map<string, Entry>();
  private readonly dataVersion: Database.Statement<[]>;
  private seenVersion: number;

  constructor(
    db: Database.Database,
    private readonly capacity: number = CONVERSATION_CACHE_SIZE,
  ) {
    this.dataVersion = db.prepare<[]>('PRAGMA data_version').pluck();
    this.seenVersion = this.readDataVersion();
  }

  /**
   * The cached conversation, or undefined (then read the row and `remember` it). Checks the file
   * first: a read must never miss what another connection committed before it started.
   */
  get(tenantId: string, threadId: string, parse: (text: string) => Conversation): Conversation | undefined {
    if (this.capacity <= 0) return undefined;
    const version = this.readDataVersion();
    if (version !== this.seenVersion) {
      this.entries.clear();
      this.seenVersion = version;
      return undefined;
    }
    const k = key(tenantId, threadId);
    const hit = this.entries.get(k);
    if (hit === undefined) return undefined;
    const conversation = typeof hit === 'string' ? deepFreeze(parse(hit)) : hit;
    // Most recently used last (a Map keeps insertion order).
    this.entries.delete(k);
    this.entries.set(k, conversation);
    return conversation;
  }

  /** Keeps a conversation just read from the file (call `get` first: it checked the file's version). */
  remember(tenantId: string, threadId: string, conversation: Conversation): Conversation {
    if (this.capacity <= 0) return conversation;
    const frozen = deepFreeze(conversation);
    this.put(key(tenantId, threadId), frozen);
    return frozen;
  }

  /**
   * This connection wrote the conversation as `text`, inside the group commit's transaction. Should
   * that write be rolled back, the store calls `clear` (no JS runs between the write and its COMMIT).
   */
  written(tenantId: string, threadId: string, text: string): void {
    if (this.capacity > 0) this.put(key(tenantId, threadId), text);
  }

  /** This connection found a conflict on the conversation: the next read goes to the file. */
  forget(tenantId: string, threadId: string): void {
    this.entries.delete(key(tenantId, threadId));
  }

  /** This connection deleted conversations (retention), or a write of its was rolled back: every entry goes. */
  clear(): void {
    this.entries.clear();
  }

  private put(k: string, entry: Entry): void {
    this.entries.delete(k);
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(k, entry);
  }

  private readDataVersion(): number {
    return dataVersionSchema.parse(this.dataVersion.get());
  }
}

/** Unambiguous for any two strings (the tenant's length says where it ends). */
function key(tenantId: string, threadId: string): string {
  return `${tenantId.length}:${tenantId}${threadId}`;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

import { benchConversation } from '../../bench/lib/fixtures';
import { ParsedConversations } from '../../relay/src/store/parsedConversations';
import { parseConversation } from '../../relay/src/store/schemas';
import type { Conversation } from '../../relay/src/store/types';

function counting(): { parse: (text: string) => Conversation; calls: () => number } {
  let calls = 0;
  return {
    parse: (text) => {
      calls++;
      return parseConversation(text);
    },
    calls: () => calls,
  };
}

describe('ParsedConversations (Redis store reads)', () => {
  const text = JSON.stringify(benchConversation(1));

  it('parses a text once: the same text at the same key is answered with the same frozen conversation', () => {
    const cache = new ParsedConversations();
    const p = counting();
    const first = cache.parse('k1', text, p.parse);
    const again = cache.parse('k1', `${text}`, p.parse);
    expect(again).toBe(first);
    expect(p.calls()).toBe(1);
    expect(first).toEqual(parseConversation(text));
    expect(Object.isFrozen(first) && Object.isFrozen(first.session) && Object.isFrozen(first.options)).toBe(true);
    expect(() => {
      (first as { status: string }).status = 'closed';
    }).toThrow(TypeError);
  });

  it('a different text at the key (another writer changed it) is parsed and replaces the entry', () => {
    const cache = new ParsedConversations();
    const p = counting();
    cache.parse('k1', text, p.parse);
    const changed = JSON.stringify({ ...benchConversation(1), status: 'queued', version: 2 });
    expect(cache.parse('k1', changed, p.parse)).toMatchObject({ status: 'queued', version: 2 });
    expect(cache.parse('k1', changed, p.parse).status).toBe('queued');
    expect(p.calls()).toBe(2);
    // The same text at another key is that key's own entry.
    cache.parse('k2', text, p.parse);
    expect(p.calls()).toBe(3);
  });

  it('keeps at most its capacity, dropping the longest unparsed first', () => {
    const cache = new ParsedConversations(2);
    const p = counting();
    cache.parse('a', text, p.parse);
    cache.parse('b', text, p.parse);
    cache.parse('c', text, p.parse);
    expect(p.calls()).toBe(3);
    cache.parse('b', text, p.parse);
    cache.parse('c', text, p.parse);
    expect(p.calls()).toBe(3);
    cache.parse('a', text, p.parse);
    expect(p.calls()).toBe(4);
  });

  it('a text that does not parse throws and leaves no entry', () => {
    const cache = new ParsedConversations();
    expect(() => cache.parse('k', '{"tenantId":1}', parseConversation)).toThrow();
    const p = counting();
    cache.parse('k', text, p.parse);
    expect(p.calls()).toBe(1);
  });
});

import { parseJsonBody, isJsonContentType } from '../../relay/src/http/jsonBody';

describe('JSON body guard', () => {
  it('parses ordinary JSON', () => {
    expect(parseJsonBody(Buffer.from('{"a":[1,{"b":"}"}]}'))).toEqual({ ok: true, value: { a: [1, { b: '}' }] } });
  });
  it('refuses bodies nested deeper than the limit before parsing', () => {
    const deep = '['.repeat(40) + ']'.repeat(40);
    expect(parseJsonBody(Buffer.from(deep), 32)).toEqual({ ok: false, reason: 'JSON nested deeper than 32' });
  });
  it('does not count brackets inside strings, including escaped quotes', () => {
    const text = JSON.stringify({ s: '[[[[[[\\"[[[[' });
    expect(parseJsonBody(Buffer.from(text), 2).ok).toBe(true);
  });
  it('reports invalid and empty JSON', () => {
    expect(parseJsonBody(Buffer.from('{'))).toEqual({ ok: false, reason: 'invalid JSON' });
    expect(parseJsonBody(Buffer.alloc(0))).toEqual({ ok: false, reason: 'empty body' });
  });
  it('accepts application/json with parameters only', () => {
    expect(isJsonContentType('application/json; charset=utf-8')).toBe(true);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
  });
  it('gives the same answer on the common spellings as on any other (a shortcut, not a second rule)', () => {
    for (const yes of [
      'application/json',
      'application/json; charset=utf-8',
      'Application/JSON',
      ' application/json ;charset=UTF-8',
      'application/json;x=y',
    ])
      expect({ yes, json: isJsonContentType(yes) }).toEqual({ yes, json: true });
    for (const no of [
      '',
      'application/jsonx',
      'application/json-patch+json',
      'text/json',
      'application/ json',
      'application/json,text/plain',
    ])
      expect({ no, json: isJsonContentType(no) }).toEqual({ no, json: false });
  });
});

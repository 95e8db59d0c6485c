import { NodeInputError } from '../../extension/src/nodeSupport';
import { contactProfileFrom, contextDataFrom, isEngageTarget, parseProfileMapping, transcriptFrom } from '../../extension/src/profile';

function mappingError(raw: unknown): NodeInputError {
  try {
    parseProfileMapping(raw);
  } catch (error) {
    if (error instanceof NodeInputError) return error;
    throw error;
  }
  throw new Error('expected a mapping error');
}

describe('parseProfileMapping', () => {
  it('accepts known Engage keys and context_data.<key>', () => {
    expect(parseProfileMapping({ mobile: 'mobile_phone', nick: 'screenname', customerNo: ' context_data.customer_no ' })).toEqual({
      mobile: 'mobile_phone',
      nick: 'screenname',
      customerNo: 'context_data.customer_no',
    });
  });
  it('accepts JSON text and treats empty values as no mapping', () => {
    expect(parseProfileMapping('{"mail":"email"}')).toEqual({ mail: 'email' });
    expect(parseProfileMapping('')).toEqual({});
    expect(parseProfileMapping(undefined)).toEqual({});
    expect(parseProfileMapping({})).toEqual({});
  });
  it('rejects an unknown target, naming the entry and the allowed keys', () => {
    const error = mappingError({ favouriteColour: 'colour' });
    expect(error.code).toBe('invalid_profile_mapping');
    expect(error.message).toContain('"favouriteColour" maps to "colour"');
    expect(error.message).toContain('firstname, lastname, email, home_phone, mobile_phone, avatar_url, gender, screenname');
    expect(error.message).toContain('context_data.<key>');
  });
  it('rejects non-text targets, arrays and bare context_data', () => {
    expect(mappingError({ a: 1 }).message).toContain('a non-text value');
    expect(mappingError(['email']).message).toContain('must be a JSON object');
    expect(mappingError({ a: 'context_data.' }).code).toBe('invalid_profile_mapping');
    expect(mappingError({ a: 'context_data' }).code).toBe('invalid_profile_mapping');
  });
  it('knows the target rules', () => {
    expect(isEngageTarget('gender')).toBe(true);
    expect(isEngageTarget('id')).toBe(false);
    expect(isEngageTarget('context_data.a.b')).toBe(false);
  });
});

describe('contactProfileFrom', () => {
  it('keeps scalars and text lists, turns objects into JSON text, drops internal keys', () => {
    const { profile, withheld } = contactProfileFrom({
      firstname: 'Ada',
      age: 36,
      accepted_gdpr: true,
      goals: ['a', 'b'],
      address: { city: 'Berlin' },
      birthday: null,
      _id: 'internal',
      nan: Number.NaN,
      fn: () => 1,
    });
    expect(withheld).toBe(false);
    expect(profile).toEqual({
      firstname: 'Ada',
      age: 36,
      accepted_gdpr: true,
      goals: ['a', 'b'],
      address: '{"city":"Berlin"}',
      birthday: null,
    });
  });
  it('sends nothing for a contact that opted out of data collection', () => {
    expect(contactProfileFrom({ firstname: 'Ada', prevent_data_collection: true })).toEqual({ profile: {}, withheld: true });
  });
  it('clips long values to the contract limit', () => {
    const { profile } = contactProfileFrom({ note: 'x'.repeat(5000) });
    expect((profile.note as string).length).toBe(4096);
  });
});

describe('transcriptFrom', () => {
  it('keeps valid lines and counts the rest', () => {
    expect(
      transcriptFrom([
        { role: 'user', text: 'hi' },
        { role: 'bot', text: ' hello ' },
        { role: 'agent', text: 'x' },
        { role: 'user', text: '' },
        'nope',
      ]),
    ).toEqual({
      transcript: [
        { role: 'user', text: 'hi' },
        { role: 'bot', text: 'hello' },
      ],
      dropped: 3,
    });
  });
  it("accepts entries of Cognigy's Get Transcript node as they come: assistant → bot, non-text entries skipped", () => {
    expect(
      transcriptFrom([
        { role: 'user', type: 'input', payload: { text: 'Where is my parcel?', data: {} } },
        { role: 'assistant', type: 'output', payload: { text: ' Let me check. ', data: null } },
        { role: 'tool', type: 'toolAnswer', payload: { content: '{"status":"late"}' } },
        { role: 'assistant', type: 'output', payload: { data: { _cognigy: {} } } },
        { role: 'system', type: 'input', payload: { text: 'internal' } },
        { role: 'agent', type: 'input', payload: { text: 'Earlier agent line' } },
        { role: 'user', text: 'mixed with our own lines' },
      ]),
    ).toEqual({
      transcript: [
        { role: 'user', text: 'Where is my parcel?' },
        { role: 'bot', text: 'Let me check.' },
        { role: 'bot', text: 'Earlier agent line' },
        { role: 'user', text: 'mixed with our own lines' },
      ],
      dropped: 0,
    });
  });
  it('keeps the most recent 500 lines', () => {
    const lines = Array.from({ length: 502 }, (_, i) => ({ role: 'user', text: `m${i}` }));
    const { transcript, dropped } = transcriptFrom(lines);
    expect(transcript).toHaveLength(500);
    expect(transcript[0]?.text).toBe('m2');
    expect(dropped).toBe(2);
  });
  it('treats an empty field as no transcript and a non-array as one dropped value', () => {
    expect(transcriptFrom(undefined)).toEqual({ transcript: [], dropped: 0 });
    expect(transcriptFrom({})).toEqual({ transcript: [], dropped: 0 });
    expect(transcriptFrom('not json')).toEqual({ transcript: [], dropped: 1 });
  });
});

describe('contextDataFrom', () => {
  it('keeps text and text lists, stringifies scalars, drops objects', () => {
    expect(contextDataFrom({ intent: 'billing', tier: 2, vip: true, tags: ['a', 1], nested: { a: 1 } })).toEqual({
      contextData: { intent: 'billing', tier: '2', vip: 'true', tags: ['a', '1'] },
      dropped: 1,
    });
  });
});

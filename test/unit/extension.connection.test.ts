import {
  CONNECTION_FIELD_NAMES,
  ConnectionError,
  connectionFieldHelp,
  parseConnection,
  redactSecrets,
  connectionSecrets,
} from '../../extension/src/connection';

const valid = {
  apiAccessToken: 'api-token-VALUE-4711',
  botCategoryId: '5f0c1a2b3c4d5e6f7a8b9c0d',
  agentCategoryId: '5f0c1a2b3c4d5e6f7a8b9c0e',
  realtimeAccessToken: 'realtime-token-VALUE-0815',
  realtimeEndpointUrl: 'https://demo.engagement.dimelo.com/realtime/sdk/5f0c1a2b3c4d5e6f7a8b9cff',
  webhookSecret: 'webhook-secret-VALUE-42',
  baseApiUrl: 'demo.api.engagement.dimelo.com',
  relayUrl: 'https://relay.example.com/',
  relayApiKey: 'relay-key-VALUE-0123456789',
};

function failure(raw: unknown): ConnectionError {
  try {
    parseConnection(raw);
  } catch (error) {
    if (error instanceof ConnectionError) return error;
    throw error;
  }
  throw new Error('expected parseConnection to fail');
}

describe('parseConnection', () => {
  it('accepts a complete connection, derives the source id and trims the relay URL', () => {
    const parsed = parseConnection({ ...valid, botCategoryId: '  5f0c1a2b3c4d5e6f7a8b9c0d  ' });
    expect(parsed.sourceId).toBe('5f0c1a2b3c4d5e6f7a8b9cff');
    expect(parsed.relayUrl).toBe('https://relay.example.com');
    expect(parsed.botCategoryId).toBe('5f0c1a2b3c4d5e6f7a8b9c0d');
  });

  it('treats the parity-only fields as optional', () => {
    const parsed = parseConnection({ ...valid, realtimeAccessToken: '', webhookSecret: undefined, baseApiUrl: '' });
    expect(parsed.webhookSecret).toBe('');
  });

  it('accepts plain http only for a relay on this machine', () => {
    expect(parseConnection({ ...valid, relayUrl: 'http://127.0.0.1:8080' }).relayUrl).toBe('http://127.0.0.1:8080');
    expect(parseConnection({ ...valid, relayUrl: 'http://localhost:8080/base/' }).relayUrl).toBe('http://localhost:8080/base');
    expect(failure({ ...valid, relayUrl: 'http://relay.example.com' }).field).toBe('relayUrl');
    expect(failure({ ...valid, relayUrl: 'https://relay.example.com/?key=1' }).field).toBe('relayUrl');
    expect(failure({ ...valid, relayUrl: 'https://user:pw@relay.example.com' }).field).toBe('relayUrl');
  });

  it.each(CONNECTION_FIELD_NAMES.filter((name) => connectionFieldHelp[name].required))(
    'names the missing field %s by label and key',
    (name) => {
      const error = failure({ ...valid, [name]: '   ' });
      expect(error.field).toBe(name);
      expect(error.code).toBe('invalid_connection');
      expect(error.message).toContain(`"${connectionFieldHelp[name].label}" (${name}) is missing`);
    },
  );

  it('says "missing" for an absent field and "must be text" for a wrong type', () => {
    const { relayApiKey: _omitted, ...withoutKey } = valid;
    expect(failure(withoutKey).message).toContain('(relayApiKey) is missing');
    expect(failure({ ...valid, botCategoryId: 42 }).message).toContain('(botCategoryId) must be text');
  });

  it('lists every faulty field in one message, first one as the field', () => {
    const error = failure({ ...valid, botCategoryId: '', relayUrl: '' });
    expect(error.field).toBe('botCategoryId');
    expect(error.message).toContain('botCategoryId');
    expect(error.message).toContain('relayUrl');
  });

  it('never echoes a value, secret or not', () => {
    const cases: Record<string, string>[] = [
      { relayApiKey: 'SECRET7' },
      { realtimeEndpointUrl: 'not a url SECRET-in-url' },
      { botCategoryId: 'https://x.engagement.dimelo.com/admin/categories/SECRET-CAT/edit' },
      { relayUrl: 'ftp://SECRET-host.example.com' },
      { baseApiUrl: 'http://SECRET-host.example.com/path' },
    ];
    for (const overrides of cases) {
      const error = failure({ ...valid, ...overrides });
      expect(error.message).not.toMatch(/SECRET/);
      for (const value of Object.values(valid)) expect(error.message).not.toContain(value);
    }
  });

  it.each([
    'acme.api.engagement.dimelo.com',
    'https://acme.api.engagement.dimelo.com',
    'https://acme.api.engagement.dimelo.com/',
    'https://acme.api.engagement.dimelo.com/1.0',
    ' https://ACME.api.engagement.dimelo.com/1.0/ ',
  ])('normalises the Base API URL %p to https://<host>/1.0', (baseApiUrl) => {
    expect(parseConnection({ ...valid, baseApiUrl }).baseApiUrl).toBe('https://acme.api.engagement.dimelo.com/1.0');
  });

  it("keeps a local simulator's http Base API URL and refuses forms that can never work", () => {
    expect(parseConnection({ ...valid, baseApiUrl: 'http://127.0.0.1:4010' }).baseApiUrl).toBe('http://127.0.0.1:4010/1.0');
    for (const baseApiUrl of [
      'http://acme.api.engagement.dimelo.com',
      'https://acme.api.engagement.dimelo.com/2.0',
      'https://acme.engagement.dimelo.com/admin/categories/1/edit',
      'https://acme.api.engagement.dimelo.com/1.0?x=1',
    ]) {
      const error = failure({ ...valid, baseApiUrl });
      expect(error.field).toBe('baseApiUrl');
      expect(error.message).toContain('e.g. acme.api.engagement.dimelo.com');
    }
  });

  it('explains a pasted category URL', () => {
    expect(failure({ ...valid, agentCategoryId: 'https://x.engagement.dimelo.com/admin/categories/abc/edit' }).message).toContain(
      'CATEGORY_ID only',
    );
  });

  it('asks for a connection when none is selected', () => {
    const error = failure(undefined);
    expect(error.message).toContain('No connection selected');
    expect(error.field).toBeUndefined();
  });
});

describe('redactSecrets', () => {
  it('replaces every secret of the connection', () => {
    const secrets = connectionSecrets(valid);
    expect(secrets).toEqual([valid.apiAccessToken, valid.realtimeAccessToken, valid.webhookSecret, valid.relayApiKey]);
    expect(redactSecrets(`token ${valid.apiAccessToken} and ${valid.relayApiKey}`, secrets)).toBe('token [redacted] and [redacted]');
  });
});

import { signRelayRequest, verifyRelayRequest } from '../../contract/requestSigning';

const KEY = 'relay-api-key-for-tests';
const body = '{"requestId":"r1"}';

function check(overrides: Partial<Parameters<typeof verifyRelayRequest>[0]> = {}) {
  const now = 1_700_000_000;
  return verifyRelayRequest({
    acceptedKeys: [KEY],
    timestampHeader: String(now),
    signatureHeader: signRelayRequest(KEY, now, body),
    rawBody: Buffer.from(body),
    nowSeconds: now,
    ...overrides,
  });
}

describe('extension → relay request signing', () => {
  it('accepts a fresh request signed with the relay API key', () => {
    expect(check()).toEqual({ ok: true });
  });
  it('rejects a request older than the tolerance window', () => {
    expect(check({ nowSeconds: 1_700_000_000 + 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });
  it('rejects a request from the future beyond the window', () => {
    expect(check({ nowSeconds: 1_700_000_000 - 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });
  it('rejects a changed body', () => {
    expect(check({ rawBody: Buffer.from('{"requestId":"r2"}') })).toEqual({ ok: false, reason: 'bad_signature' });
  });
  it('rejects a wrong key, missing headers and malformed values', () => {
    expect(check({ acceptedKeys: ['other-key-000000'] })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ signatureHeader: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(check({ timestampHeader: 'yesterday' })).toEqual({ ok: false, reason: 'malformed_timestamp' });
    expect(check({ signatureHeader: 'v2=abc' })).toEqual({ ok: false, reason: 'bad_signature' });
  });
  it('binds the nonce into the MAC, so the same body at the same second differs per attempt', () => {
    const now = 1_700_000_000;
    const first = signRelayRequest(KEY, now, body, 'nonce-aaaaaaaa');
    const second = signRelayRequest(KEY, now, body, 'nonce-bbbbbbbb');
    expect(first).not.toBe(second);
    expect(check({ signatureHeader: first, nonceHeader: 'nonce-aaaaaaaa' })).toEqual({ ok: true });
    expect(check({ signatureHeader: first, nonceHeader: 'nonce-bbbbbbbb' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ signatureHeader: first })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ signatureHeader: first, nonceHeader: 'bad nonce!' })).toEqual({ ok: false, reason: 'malformed_nonce' });
  });
  it('binds the timestamp into the MAC', () => {
    const sig = signRelayRequest(KEY, 1_700_000_000, body);
    expect(check({ timestampHeader: '1700000001', signatureHeader: sig, nowSeconds: 1_700_000_001 })).toEqual({ ok: false, reason: 'bad_signature' });
  });
});

import {
  precheckRelayRequest,
  RELAY_HEADERS,
  signRelayRequest,
  signRelayRequestV1,
  verifyRelayRequest,
} from '../../contract/requestSigning';

const KEY = 'relay-api-key-for-tests';
const body = '{"requestId":"r1"}';
const NOW = 1_700_000_000;
const parts = { method: 'POST', path: '/api/v1/handover/status', sourceId: 'src-a', timestampSeconds: NOW, nonce: 'nonce-aaaaaaaa' };

function check(overrides: Partial<Parameters<typeof verifyRelayRequest>[0]> = {}) {
  return verifyRelayRequest({
    acceptedKeys: [KEY],
    method: parts.method,
    path: parts.path,
    sourceHeader: parts.sourceId,
    timestampHeader: String(NOW),
    nonceHeader: parts.nonce,
    signatureHeader: signRelayRequest(KEY, parts, body),
    rawBody: Buffer.from(body),
    nowSeconds: NOW,
    ...overrides,
  });
}

describe('extension → relay request signing (v2)', () => {
  it('accepts a fresh request signed with the relay API key', () => {
    expect(check()).toEqual({ ok: true });
    expect(check({ acceptedKeys: ['previous-key-0000', KEY] })).toEqual({ ok: true });
  });
  it('rejects a request older or newer than the tolerance window', () => {
    expect(check({ nowSeconds: NOW + 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(check({ nowSeconds: NOW - 301 })).toEqual({ ok: false, reason: 'stale_timestamp' });
  });
  it('binds the body, the timestamp and the nonce into the MAC', () => {
    expect(check({ rawBody: Buffer.from('{"requestId":"r2"}') })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ timestampHeader: String(NOW + 1) })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ nonceHeader: 'nonce-bbbbbbbb' })).toEqual({ ok: false, reason: 'bad_signature' });
  });
  it('binds the method, the path and the source: a signed status call is not a cancel, nor another tenant’s call', () => {
    expect(check({ path: '/api/v1/handover/cancel' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ method: 'PUT' })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ sourceHeader: 'src-b' })).toEqual({ ok: false, reason: 'bad_signature' });
  });
  it('rejects a wrong key, missing headers and malformed values', () => {
    expect(check({ acceptedKeys: ['other-key-000000'] })).toEqual({ ok: false, reason: 'bad_signature' });
    expect(check({ signatureHeader: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(check({ nonceHeader: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(check({ sourceHeader: undefined })).toEqual({ ok: false, reason: 'missing_headers' });
    expect(check({ timestampHeader: 'yesterday' })).toEqual({ ok: false, reason: 'malformed_timestamp' });
    expect(check({ nonceHeader: 'bad nonce!' })).toEqual({ ok: false, reason: 'malformed_nonce' });
    expect(check({ sourceHeader: 'two words' })).toEqual({ ok: false, reason: 'malformed_source' });
    expect(check({ signatureHeader: `v1=${'a'.repeat(64)}` })).toEqual({ ok: false, reason: 'bad_signature' });
  });
  it('tells an extension that only signs v1 apart from a forged call', () => {
    const legacy = signRelayRequestV1(KEY, NOW, body, parts.nonce);
    expect(check({ signatureHeader: undefined, legacySignatureHeader: legacy })).toEqual({ ok: false, reason: 'unsupported_signature' });
    // The v1 MAC is not accepted in the v2 header either.
    expect(check({ signatureHeader: legacy })).toEqual({ ok: false, reason: 'bad_signature' });
  });
  it('checks everything but the MAC without the body (the relay runs this before reading it)', () => {
    const pre = precheckRelayRequest(
      {
        timestampHeader: String(NOW),
        nonceHeader: parts.nonce,
        sourceHeader: 'src-a',
        signatureHeader: signRelayRequest(KEY, parts, body),
      },
      NOW,
    );
    expect(pre.ok).toBe(true);
    expect(
      precheckRelayRequest(
        { timestampHeader: String(NOW - 1000), nonceHeader: parts.nonce, sourceHeader: 'src-a', signatureHeader: 'v2=00' },
        NOW,
      ),
    ).toEqual({ ok: false, reason: 'stale_timestamp' });
    expect(RELAY_HEADERS.signatureV2).toBe('x-rce-relay-signature-v2');
  });
});

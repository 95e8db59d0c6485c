import { signSdkBody, verifySdkSignature } from '../../relay/src/engage/sdkSignature';

// The documented example of engage-digital-api-docs (request-response.md).
const KEY = '3YJZzqMJ5Ec7i2JGvnt8TgvleD7dtpwpmag4S6MuRA2GQdfvV4STIsxDRJ4fEjO8';
const BODY = '{"action":"implementation.info","time":"2012-10-01T17:18:40Z"}';
const EXPECTED =
  '826b61e7939505b2e773ef43a2aad53ec0385dd9d783fbd1c8fea00d0e2a3e2fb0ae0a5b2eb342356b61c41b5f19baec4c1f7e7e37a5b486fe9b593942017ff9';

describe('Source SDK signature', () => {
  it('matches the documented test vector', () => {
    expect(signSdkBody(KEY, BODY)).toBe(EXPECTED);
  });

  it('verifies the documented vector over the raw bytes, in either hex case', () => {
    expect(verifySdkSignature([KEY], Buffer.from(BODY), EXPECTED)).toBe(true);
    expect(verifySdkSignature([KEY], Buffer.from(BODY), EXPECTED.toUpperCase())).toBe(true);
  });

  it('rejects a signature over re-serialised JSON with different spacing', () => {
    const reformatted = JSON.stringify(JSON.parse(BODY), null, 1);
    expect(verifySdkSignature([KEY], Buffer.from(reformatted), EXPECTED)).toBe(false);
  });

  it('rejects missing, malformed, truncated and wrong-key signatures', () => {
    const body = Buffer.from(BODY);
    expect(verifySdkSignature([KEY], body, undefined)).toBe(false);
    expect(verifySdkSignature([KEY], body, '')).toBe(false);
    expect(verifySdkSignature([KEY], body, 'zz'.repeat(64))).toBe(false);
    expect(verifySdkSignature([KEY], body, EXPECTED.slice(0, 126))).toBe(false);
    expect(verifySdkSignature(['another-token-entirely'], body, EXPECTED)).toBe(false);
  });

  it('accepts the previous token during a rotation', () => {
    expect(verifySdkSignature(['new-token-123456', KEY], Buffer.from(BODY), EXPECTED)).toBe(true);
  });
});

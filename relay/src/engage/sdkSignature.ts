import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Engage Digital Source SDK signature: lowercase hex HMAC-SHA512 of the exact body bytes,
 * keyed with the source's API access token ("Realtime Access Token").
 * Sent as the `X-SMCCSDK-SIGNATURE` header (or `?signature=`) on requests in both directions
 * and on our responses.
 */
export const SDK_SIGNATURE_HEADER = 'x-smccsdk-signature';

export function signSdkBody(accessToken: string, body: string | Buffer): string {
  return createHmac('sha512', accessToken).update(body).digest('hex');
}

const HEX_SHA512 = /^[0-9a-fA-F]{128}$/;

/**
 * Constant-time check of a presented signature against every accepted token
 * (more than one during token rotation). Never throws on malformed input.
 */
export function verifySdkSignature(acceptedTokens: readonly string[], body: Buffer, presented: string | undefined): boolean {
  if (!presented || !HEX_SHA512.test(presented)) return false;
  // Buffer.from reads hex digits in either case (the regex above admits nothing else).
  const presentedBytes = Buffer.from(presented, 'hex');
  let matched = false;
  for (const token of acceptedTokens) {
    const expected = createHmac('sha512', token).update(body).digest();
    // Evaluate every token so timing does not reveal which one matched.
    if (timingSafeEqual(expected, presentedBytes)) matched = true;
  }
  return matched;
}

/** Every form in which a secret could leak: as is, hex, base64, base64url, URL-encoded. */
export function secretForms(secret: string): string[] {
  const bytes = Buffer.from(secret, 'utf8');
  return [...new Set([secret, bytes.toString('hex'), bytes.toString('base64'), bytes.toString('base64url'), encodeURIComponent(secret)])];
}

/** One line per (place, secret) where any form of the secret appears; names only the secret's first characters. */
export function findLeaks(haystacks: { where: string; text: string }[], secrets: readonly string[]): string[] {
  const leaks: string[] = [];
  for (const secret of secrets) {
    for (const form of secretForms(secret)) {
      for (const { where, text } of haystacks) if (text.includes(form)) leaks.push(`${where} contains a form of ${secret.slice(0, 6)}…`);
    }
  }
  return leaks;
}

import type { IncomingMessage } from 'node:http';
import pino from 'pino';
import { buildEngageUser } from '../../relay/src/engage/profileMapping';
import { agentReplyParamsAllowingHttpSchema, agentReplyParamsSchema } from '../../relay/src/engage/sourceSdkProtocol';
import { agentReplyToNotify, htmlToText } from '../../relay/src/handover/agentReplyText';
import { BytesInFlight, SMALL_BODY_BYTES } from '../../relay/src/http/bytesInFlight';
import { clientAddressResolver, limitKey } from '../../relay/src/http/clientAddress';
import { matchEngagePost } from '../../relay/src/http/engageEndpoint';
import { createRequestLog, REJECTIONS_LOGGED_PER_KEY } from '../../relay/src/http/requestLog';
import { contactProfileFrom, parseProfileMapping } from '../../extension/src/profile';

/** The small parts of issue 13's hardening, one behaviour each. */

function requestFrom(socketAddress: string, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress: socketAddress },
    connection: { remoteAddress: socketAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe('client address (TRUST_PROXY)', () => {
  it('believes X-Forwarded-For from loopback only by default, and only when it names an address', () => {
    const resolve = clientAddressResolver({ kind: 'list', entries: ['loopback'] });
    expect(resolve(requestFrom('127.0.0.1', '203.0.113.9'))).toBe('203.0.113.9');
    // A private hop is not trusted by default (it was before).
    expect(resolve(requestFrom('10.1.2.3', '203.0.113.9'))).toBe('10.1.2.3');
    expect(resolve(requestFrom('198.51.100.1', '203.0.113.9'))).toBe('198.51.100.1');
    // Junk is not an address: the socket address counts, so junk cannot mint fresh limiter keys.
    for (const junk of ['random-value', 'x'.repeat(14_000), '', '999.1.1.1', '1.2.3.4:80'])
      expect(resolve(requestFrom('127.0.0.1', junk))).toBe('127.0.0.1');
  });

  it('takes a hop count or a CIDR list, or trusts nobody', () => {
    const twoHops = clientAddressResolver({ kind: 'hops', hops: 2 });
    expect(twoHops(requestFrom('198.51.100.1', '203.0.113.1, 203.0.113.2, 203.0.113.3'))).toBe('203.0.113.2');
    const cidr = clientAddressResolver({ kind: 'list', entries: ['10.0.0.0/8'] });
    expect(cidr(requestFrom('10.9.9.9', '203.0.113.4'))).toBe('203.0.113.4');
    expect(cidr(requestFrom('127.0.0.1', '203.0.113.4'))).toBe('127.0.0.1');
    expect(clientAddressResolver({ kind: 'none' })(requestFrom('127.0.0.1', '203.0.113.4'))).toBe('127.0.0.1');
  });
});

describe('limit key', () => {
  it('counts IPv6 clients per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(limitKey('203.0.113.9')).toBe('203.0.113.9');
    expect(limitKey('::ffff:203.0.113.9')).toBe('203.0.113.9');
    expect(limitKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:0DB8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(limitKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitKey('::1')).toBe('0:0:0:0::/64');
    expect(limitKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
  });

  it('applies to forwarded IPv6 addresses', () => {
    const resolve = clientAddressResolver({ kind: 'list', entries: ['loopback'] });
    expect(resolve(requestFrom('127.0.0.1', '2001:db8:5:6:1234::9'))).toBe('2001:db8:5:6::/64');
  });
});

describe('bytes in flight', () => {
  it('refuses past the per-address and the total budget, and gives the bytes back on release', () => {
    const budget = new BytesInFlight(3 * SMALL_BODY_BYTES, 8 * SMALL_BODY_BYTES);
    const a = budget.reserve('a', 2 * SMALL_BODY_BYTES);
    expect('release' in a).toBe(true);
    expect(budget.reserve('a', 2 * SMALL_BODY_BYTES)).toEqual({ refused: 'address' });
    if ('release' in a) {
      a.release();
      a.release(); // idempotent
    }
    expect(budget.bytesHeld).toBe(0);
    expect(budget.addressesHeld).toBe(0);
  });

  it('keeps an eighth of the total for small bodies', () => {
    const budget = new BytesInFlight(1_000_000, 8 * 100_000);
    // Large bodies (over SMALL_BODY_BYTES) fill 7/8 of the total at most …
    for (let i = 0; i < 7; i++) expect('release' in budget.reserve(`big-${i}`, 100_000)).toBe(true);
    expect(budget.reserve('big-7', 100_000)).toEqual({ refused: 'total' });
    // … the rest is there for everyday calls.
    expect('release' in budget.reserve('small', 50_000)).toBe(true);
  });
});

describe('Engage route match', () => {
  const match = (url: string, method = 'POST') => matchEngagePost({ method, url } as IncomingMessage);

  it('matches the base URL (the shortcut) like every other spelling of it', () => {
    expect(match('/handover/rce')).toEqual({ path: '/handover/rce', query: '' });
    expect(match('/handover/rce/')).toEqual({ path: '/handover/rce/', query: '' });
    expect(match('/HANDOVER/RCE')).toEqual({ path: '/HANDOVER/RCE', query: '' });
    expect(match('/handover/rce?signature=ab')).toEqual({ path: '/handover/rce', query: 'signature=ab' });
    expect(match('http://relay.example/handover/rce?x=1')).toEqual({ path: '/handover/rce', query: 'x=1' });
    expect(match('/handover/rce/src%2D1')).toEqual({ path: '/handover/rce/src%2D1', query: '', sourceId: 'src-1' });
    expect(match('/handover/rce/%E0%A4%A')).toEqual({ path: '/handover/rce/%E0%A4%A', query: '', badPath: true });
  });

  it('leaves other methods and paths to Express', () => {
    for (const [method, url] of [
      ['GET', '/handover/rce'],
      ['PUT', '/handover/rce'],
      ['POST', '/handover/rcex'],
      ['POST', '/handover/rce/a/b'],
      ['POST', '/api/v1/handover'],
      ['POST', ''],
    ] as const)
      expect({ method, url, route: match(url, method) }).toEqual({ method, url, route: null });
  });
});

describe('request log', () => {
  function capture() {
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    return { logger, lines };
  }

  it('clips what the client controls', () => {
    const { logger, lines } = capture();
    createRequestLog(logger)({ method: 'GET', path: `/${'p'.repeat(15_000)}`, status: 404, ms: 1, reason: 'r'.repeat(5_000) });
    expect(JSON.stringify(lines[0]).length).toBeLessThan(1_000);
    expect(lines[0]?.path).toMatch(/…\(15001 chars\)$/);
  });

  it('says which statuses it writes, and writes no line for a success below debug', () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const log = createRequestLog(logger);
    expect([200, 204, 399, 400, 404, 503].map((status) => log.writes(status))).toEqual([false, false, false, true, true, true]);
    log({ method: 'POST', path: '/handover/rce', status: 200, ms: 1 });
    expect(lines).toEqual([]);
    logger.level = 'debug';
    expect(log.writes(200)).toBe(true);
    log({ method: 'POST', path: '/handover/rce', status: 200, ms: 1 });
    expect(lines.map((l) => (JSON.parse(l) as { msg: string; status: number }).status)).toEqual([200]);
  });

  it('logs the first few of each repeated rejection per window, then one summary', () => {
    const { logger, lines } = capture();
    let now = 1_000_000;
    const log = createRequestLog(logger, () => now);
    for (let i = 0; i < 1_000; i++) log({ method: 'GET', path: `/nope-${i}`, status: 404, ms: 1, reason: 'not_found: No such route' });
    for (let i = 0; i < 3; i++) log({ method: 'POST', path: '/handover/rce', status: 401, ms: 1, reason: 'Invalid signature' });
    expect(lines.filter((l) => l.msg === 'request rejected')).toHaveLength(REJECTIONS_LOGGED_PER_KEY + 3);
    now += 10_000;
    log({ method: 'GET', path: '/x', status: 200, ms: 1 });
    log({ method: 'GET', path: '/nope', status: 404, ms: 1, reason: 'not_found: No such route' });
    const summary = lines.find((l) => l.msg === 'repeated rejections suppressed');
    expect(summary?.rejections).toEqual([
      { status: 404, reason: 'not_found: No such route', suppressed: 1_000 - REJECTIONS_LOGGED_PER_KEY },
    ]);
    // A new window logs again.
    expect(lines.at(-1)?.path).toBe('/nope');
  });
});

describe('agent HTML to text', () => {
  it('keeps 100,000 "<" without a ">" as text (the quadratic regex took 10.7 s on this machine)', () => {
    const input = '<'.repeat(100_000);
    expect(htmlToText(input)).toBe(input);
  });

  it('converts like before: tags dropped, breaks kept, entities decoded once', () => {
    expect(htmlToText('<p>Hello&nbsp;<b>there</b></p><div>a &amp;lt; b<br/>c</div><ul><li>x</li><li>y</li></ul>')).toBe(
      'Hello there\na &lt; b\nc\nx\ny',
    );
    // As with the regex before: a '<' runs to the next '>', whatever lies between.
    expect(htmlToText('1 < 2 and <i>3</i> > 2')).toBe('1 3 > 2');
    expect(htmlToText('a<BR>b<br >c</P>\n\n\n\nd')).toBe('a\nb\nc\n\nd');
    expect(htmlToText('x'.repeat(200_000)).length).toBe(100_000);
  });
});

describe('agent attachments', () => {
  const reply = (url: string) => ({ content_id: 'c1', thread_id: 't1', body: 'see', attachments: [{ url }] });
  it('accepts https only, http when the admin allows it, never javascript: or data:', () => {
    expect(agentReplyParamsSchema.safeParse(reply('https://files.example/a.png')).success).toBe(true);
    for (const url of [
      'http://files.example/a.png',
      'javascript:alert(1)',
      'data:text/html;base64,PHNjcmlwdD4=',
      'ftp://x/y',
      'not a url',
    ]) {
      expect({ url, ok: agentReplyParamsSchema.safeParse(reply(url)).success }).toEqual({ url, ok: false });
    }
    expect(agentReplyParamsAllowingHttpSchema.safeParse(reply('http://files.example/a.png')).success).toBe(true);
    for (const url of ['javascript:alert(1)', 'data:text/html;base64,PHNjcmlwdD4='])
      expect(agentReplyParamsAllowingHttpSchema.safeParse(reply(url)).success).toBe(false);
    const parsed = agentReplyParamsSchema.parse(reply('https://files.example/a.png'));
    expect(agentReplyToNotify(parsed)?.attachments[0]?.url).toBe('https://files.example/a.png');
  });
});

describe('built-in property names as profile keys', () => {
  const builtIns = ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__', '__defineGetter__'];
  it('are plain data for the relay’s Engage user mapping', () => {
    const profile = Object.fromEntries(builtIns.map((k) => [k, `v-${k}`]));
    const user = buildEngageUser({ authorId: 'a1', profile, mapping: { toString: 'email' }, now: '2026-01-01T00:00:00Z' });
    expect(user.email).toBe('v-toString');
    expect(user.context_data).toEqual({
      constructor: 'v-constructor',
      hasOwnProperty: 'v-hasOwnProperty',
      valueOf: 'v-valueOf',
      proto: 'v-__proto__',
      defineGetter: 'v-__defineGetter__',
    });
  });

  it('are kept as own keys by the extension (never a prototype change)', () => {
    const { profile } = contactProfileFrom(JSON.parse('{"constructor":"c","__proto__":["x"],"toString":"t"}'));
    expect(Object.getPrototypeOf(profile)).toBe(Object.prototype);
    // Keys starting with "_" are Cognigy-internal and dropped; the others are data.
    expect(Object.keys(profile).sort()).toEqual(['constructor', 'toString']);
    const mapping = parseProfileMapping('{"__proto__":"email","constructor":"firstname"}');
    expect(Object.getPrototypeOf(mapping)).toBe(Object.prototype);
    expect(Object.entries(mapping).sort()).toEqual([
      ['__proto__', 'email'],
      ['constructor', 'firstname'],
    ]);
  });
});

import pino from 'pino';
import { signSdkBody } from '../../relay/src/engage/sdkSignature';
import { SourceSdkHandler } from '../../relay/src/engage/sourceSdkHandler';
import type { HandoverEngine } from '../../relay/src/handover/engine';
import { createLogger, flatLineLogger, type FlatLogFields, isoTimeField, reachesIntoObject, REDACT_PATHS } from '../../relay/src/log';
import { tenantSecrets, testTenant } from '../helpers/relayParts';

/** A relay logger (createLogger) keeping its lines, with `secrets` configured. */
function capture(level = 'info', secrets: readonly string[] = []) {
  const lines: string[] = [];
  const logger = createLogger({ level, secrets, destination: { write: (line: string) => void lines.push(line) } });
  return { logger, lines };
}

/** A line without its timestamp (two loggers never write the same millisecond for sure). */
const withoutTime = (line: string | undefined): string => (line ?? '').replace(/,"time":"[^"]*"/, '');

describe('isoTimeField', () => {
  const pinoIso = (t: number) => `,"time":"${new Date(t).toISOString()}"`;

  it('writes exactly what pino.stdTimeFunctions.isoTime writes, across second, day and year boundaries', () => {
    let now = 0;
    const field = isoTimeField(() => now);
    const times = [
      0,
      1,
      9,
      10,
      99,
      100,
      999,
      1000,
      1001,
      -1,
      -999,
      -1000,
      -1001,
      1_764_780_000_000,
      1_764_780_000_999,
      1_764_780_001_000,
      1_767_225_599_999,
      1_767_225_600_000,
      8.64e15 - 1,
      -8.64e15,
      253_402_300_799_999,
      253_402_300_800_000,
    ];
    for (let i = 0; i < 2_000; i++) times.push(Math.floor(1_700_000_000_000 + Math.random() * 100_000_000_000));
    // In order (the cached second is reused) and shuffled (it is replaced).
    for (const t of [...times, ...[...times].reverse(), ...times.map((t) => t + 1)]) {
      now = t;
      expect(field()).toBe(pinoIso(t));
    }
  });

  it('is what createLogger stamps every line with', () => {
    const { logger, lines } = capture();
    const before = Date.now();
    logger.info('x');
    const time = Date.parse((JSON.parse(lines[0] ?? '{}') as { time: string }).time);
    expect(time).toBeGreaterThanOrEqual(before);
    expect(time).toBeLessThanOrEqual(Date.now());
  });
});

describe('flatLineLogger (a line without the redaction pass)', () => {
  it('every redaction path reaches into a top-level object, so a flat line is never redacted', () => {
    for (const path of REDACT_PATHS) expect({ path, reaches: reachesIntoObject(path) }).toEqual({ path, reaches: true });
    for (const path of ['token', 'apiKey', '*', 'headers', '["x-api-key"]', 'a.', '']) expect(reachesIntoObject(path)).toBe(false);
    for (const path of ['a.b', '*.token', 'req.headers["x"]', 'a[0]']) expect(reachesIntoObject(path)).toBe(true);
  });

  it('writes the same line as the redacting logger for flat fields named like any redaction path segment', () => {
    const names = [...new Set(REDACT_PATHS.flatMap((p) => p.split(/[.[\]"]+/).filter((n) => n !== '' && n !== '*')))];
    expect(names).toEqual(expect.arrayContaining(['apiKey', 'token', 'secret', 'headers', 'authorization', 'x-api-key']));
    const values: FlatLogFields[keyof FlatLogFields][] = ['plain', '', 42, 0.5, true, false, null, 'quote " and \\ and \n'];
    const redacting = capture();
    const flat = capture();
    const log = flatLineLogger(flat.logger);
    names.forEach((name, i) => {
      const fields: FlatLogFields = {
        tenant: 't',
        [name]: values[i % values.length] ?? null,
        other: values[(i + 3) % values.length] ?? null,
      };
      redacting.logger.info(fields, 'agent reply received');
      log('info', fields, 'agent reply received');
    });
    expect(flat.lines.map(withoutTime)).toEqual(redacting.lines.map(withoutTime));
    expect(flat.lines).toHaveLength(names.length);
  });

  it('still replaces every configured secret value, wherever it appears in the line', () => {
    const secret = 'realtime-token-T9-c0ffee12deadbeef';
    const { logger, lines } = capture('info', [secret]);
    flatLineLogger(logger)('warn', { contentId: secret, threadId: `x${secret}y`, token: secret }, `message ${secret}`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(secret);
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({
      level: 40,
      contentId: '[REDACTED]',
      threadId: 'x[REDACTED]y',
      token: '[REDACTED]',
      msg: 'message [REDACTED]',
    });
  });

  it("follows the parent's level, also when it changes later", () => {
    const { logger, lines } = capture('warn');
    const log = flatLineLogger(logger);
    log('info', { n: 1 }, 'hidden');
    log('warn', { n: 2 }, 'shown');
    logger.level = 'info';
    log('info', { n: 3 }, 'shown');
    logger.level = 'silent';
    log('warn', { n: 4 }, 'hidden');
    expect(lines.map((l) => (JSON.parse(l) as { n: number }).n)).toEqual([2, 3]);
  });

  it('accepts only primitive fields (an object could hold something a path would have redacted)', () => {
    const log = flatLineLogger(pino({ level: 'silent' }));
    // @ts-expect-error a nested object is not a flat field
    log('info', { req: { headers: { authorization: 'Bearer x' } } }, 'no');
    // @ts-expect-error nor is an array
    log('info', { list: ['a'] }, 'no');
    log('info', { a: 'x', b: 1, c: true, d: null }, 'yes');
  });
});

describe('the agent reply line', () => {
  it('has its fields and no secret, even when Engage echoes a secret as content or thread id', async () => {
    const tenant = testTenant(0, { sourceId: 'src-log-0001' });
    const s = tenantSecrets(0);
    const secrets = Object.values(s);
    const { logger, lines } = capture('info', secrets);
    const engine = { agentReply: () => Promise.resolve({ id: 'agent-0001' }) } as unknown as HandoverEngine;
    const handler = new SourceSdkHandler({ tenants: [tenant], engine, logger, replayWindowMs: 300_000, replyRetryWindowMs: 86_400_000 });
    for (const [contentId, threadId] of [
      ['content-1', 'thread-1'],
      [s.cognigyApiKey, s.realtimeAccessToken],
    ] as const) {
      const body = JSON.stringify({
        action: 'messages.create',
        params: { content_id: contentId, thread_id: threadId, body: 'hi', retry: true },
        time: new Date().toISOString(),
      });
      const answer = await handler.handle({
        rawBody: Buffer.from(body),
        signature: signSdkBody(s.realtimeAccessToken, body),
        now: Date.now(),
      });
      expect(answer.status).toBe(200);
    }
    expect(lines).toHaveLength(2);
    for (const line of lines) for (const secret of secrets) expect(line).not.toContain(secret);
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(Object.keys(parsed[0] ?? {})).toEqual([
      'level',
      'time',
      'service',
      'tenant',
      'threadId',
      'contentId',
      'contentIdFromEngage',
      'retry',
      'accepted',
      'msg',
    ]);
    expect(parsed[0]).toMatchObject({
      level: 30,
      service: 'rce-relay',
      tenant: 'src-log-0001',
      threadId: 'thread-1',
      contentId: 'content-1',
      contentIdFromEngage: true,
      retry: true,
      accepted: true,
      msg: 'agent reply received',
    });
    expect(parsed[1]).toMatchObject({ threadId: '[REDACTED]', contentId: '[REDACTED]' });
  });
});

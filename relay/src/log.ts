import pino, { type DestinationStream, type Logger } from 'pino';

/**
 * Structured logs (pino). Known secret-bearing fields are redacted by path, and as a second
 * line of defence every configured secret value is replaced wherever it appears in a line.
 */
export function createLogger(options: { level: string; secrets: readonly string[]; destination?: DestinationStream }): Logger {
  const secrets = options.secrets.filter((s) => s.length >= 8);
  const scrub = (line: string): string => {
    let out = line;
    for (const s of secrets) if (out.includes(s)) out = out.split(s).join('[REDACTED]');
    return out;
  };
  const destination: DestinationStream = options.destination ?? pino.destination({ sync: false });
  const scrubbing: DestinationStream = { write: (line: string) => destination.write(scrub(line)) };
  return pino(
    {
      level: options.level,
      base: { service: 'rce-relay' },
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers["x-dimelo-secret"]',
          'req.headers["x-api-key"]',
          'headers.authorization',
          'headers["x-api-key"]',
          '*.apiKey',
          '*.token',
          '*.secret',
        ],
        censor: '[REDACTED]',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    scrubbing,
  );
}

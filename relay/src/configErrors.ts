import type { z } from 'zod';

/**
 * Configuration errors an operator can act on: one line per variable (or tenants-file field),
 * saying whether it is missing, empty or malformed, with an example of the right form. Values are
 * never shown (most are secrets).
 */

/** Examples by configuration key (the same keys in the environment and in the RELAY_CONFIG file). */
const EXAMPLES: Record<string, string> = {
  apiAccessToken: '<Engage Admin > API access tokens, the bot agent’s token>',
  botCategoryId: '5f1c00000000000000000c02',
  agentCategoryId: '5f1c00000000000000000c03',
  realtimeAccessToken: '<the Engage source’s API access token>',
  previousRealtimeAccessToken: '<the source’s previous API access token>',
  realtimeEndpointUrl: 'https://acme.engagement.dimelo.com/realtime/sdk/5f1c00000000000000000d01',
  webhookSecret: '<the Engage webhook’s Secret, 8 characters or more>',
  previousWebhookSecret: '<the webhook’s previous Secret>',
  baseApiUrl: 'https://acme.api.engagement.dimelo.com/1.0',
  verifyToken: 'cognigy123',
  cognigyApiBaseUrl: 'https://api-trial.cognigy.ai',
  cognigyApiKey: '<Cognigy My Profile > API Keys>',
  relayApiKey: '<the Connection’s Relay API Key, e.g. from `openssl rand -hex 32`>',
  previousRelayApiKey: '<the previous Relay API Key>',
  port: '8080',
  host: '0.0.0.0',
  storeUrl: 'sqlite:./data/relay.db (one relay) or redis://redis:6379/0 (several)',
  logLevel: 'info',
  outboxDeadlineMs: '900000',
  replayWindowMs: '300000',
  maxBodyBytes: '1048576',
  rateLimitPerMinute: '6000',
  tenantRateLimitPerMinute: '6000',
  engageRestPerMinute: '450',
};

type Issue = z.core.$ZodIssue;

/** A fallback for keys without an entry above (settings added later), from the key's name or the issue. */
function exampleFor(key: string, issues: readonly Issue[]): string | undefined {
  const known = EXAMPLES[key];
  if (known) return known;
  for (const issue of issues) if (issue.code === 'invalid_value' && issue.values.length > 0) return issue.values.map(String).join(' | ');
  if (/Ms$/.test(key)) return '60000';
  if (/Port$/.test(key)) return '9090';
  if (/(PerMinute|Days|Bytes|Count)$/.test(key)) return '100';
  if (/Url$/.test(key)) return 'https://example.com';
  return undefined;
}

/** What is wrong with a value that is present and not empty, in the operator's words. */
function reason(issue: Issue): string {
  switch (issue.code) {
    case 'invalid_format':
      return issue.format === 'url' ? 'not a URL' : `not a valid ${issue.format}`;
    case 'invalid_type':
      return issue.expected === 'number' ? 'not a number' : `expected ${issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string')
        return issue.message.startsWith('Too small') ? `must be at least ${String(issue.minimum)} characters` : issue.message;
      return issue.origin === 'array' ? `must have at least ${String(issue.minimum)} entries` : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'string' ? `must be at most ${String(issue.maximum)} characters` : `must be at most ${String(issue.maximum)}`;
    default:
      return issue.message;
  }
}

type State = 'missing' | 'empty' | 'malformed';

function stateOf(raw: unknown): State {
  if (raw === undefined || raw === null) return 'missing';
  if (typeof raw === 'string' && raw.trim() === '') return 'empty';
  return 'malformed';
}

function describe(
  label: string,
  state: State,
  issues: readonly Issue[],
  example: string | undefined,
  exampleAs: (example: string) => string,
): string {
  if (issues.every((issue) => issue.code === 'custom' && issue.message === 'unknown setting')) return `${label} is not a known setting`;
  const what =
    state === 'missing' ? 'is not set' : state === 'empty' ? 'is empty' : `is malformed: ${[...new Set(issues.map(reason))].join('; ')}`;
  return `${label} ${what}${example ? `. Example: ${exampleAs(example)}` : ''}`;
}

function groupByKey(error: z.ZodError): Map<string, Issue[]> {
  const byKey = new Map<string, Issue[]>();
  for (const issue of error.issues) {
    const key = issue.path.map(String).join('.');
    byKey.set(key, [...(byKey.get(key) ?? []), issue]);
  }
  return byKey;
}

/**
 * Lines for issues of a schema fed from environment variables. `mapping` is variable → key; the
 * raw environment tells a variable that is not set from one set to an empty string.
 */
export function describeEnvIssues(error: z.ZodError, env: NodeJS.ProcessEnv, mapping: Record<string, string>): string[] {
  const lines: string[] = [];
  for (const [key, issues] of groupByKey(error)) {
    const variable = Object.entries(mapping).find(([, k]) => k === key)?.[0] ?? key;
    const example = exampleFor(key, issues);
    lines.push(describe(variable, stateOf(env[variable]), issues, example, (e) => `${variable}=${e}`));
  }
  return lines;
}

/** Lines for issues of one object of the RELAY_CONFIG file (`where` e.g. "tenants[0]"). */
export function describeFileIssues(error: z.ZodError, raw: unknown, where: string): string[] {
  const lines: string[] = [];
  for (const [key, issues] of groupByKey(error)) {
    const value =
      key === ''
        ? raw
        : key
            .split('.')
            .reduce<unknown>(
              (node, part) => (node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[part] : undefined),
              raw,
            );
    const field = [where, key].filter((part) => part !== '').join('.') || 'file';
    const leaf = key.split('.').at(-1) ?? key;
    lines.push(describe(`RELAY_CONFIG ${field}`, stateOf(value), issues, exampleFor(leaf, issues), (e) => `"${leaf}": "${e}"`));
  }
  return lines;
}

/** The message of a ConfigError: a heading, then one line per variable. */
export function configErrorMessage(heading: string, lines: readonly string[]): string {
  return [`${heading} (${lines.length} ${lines.length === 1 ? 'problem' : 'problems'}):`, ...lines.map((l) => `  ${l}`)].join('\n');
}

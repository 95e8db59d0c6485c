import type { IConnectionSchema } from '@cognigy/extension-tools';
import { z } from 'zod';
import { sourceIdFromRealtimeEndpoint } from '../../contract/fingerprint';

/**
 * The one connection an admin fills in: the seed's Handover Provider settings
 * (API Access Token … Base API URL) plus where the relay lives and its API key.
 */
export const CONNECTION_TYPE = 'rce-handover';
export const CONNECTION_LABEL = 'RingCentral Engage (RCE) Handover';

export const CONNECTION_FIELD_NAMES = [
  'apiAccessToken',
  'botCategoryId',
  'agentCategoryId',
  'realtimeAccessToken',
  'realtimeEndpointUrl',
  'webhookSecret',
  'baseApiUrl',
  'relayUrl',
  'relayApiKey',
] as const;
export type ConnectionFieldName = (typeof CONNECTION_FIELD_NAMES)[number];

export interface ConnectionFieldHelp {
  label: string;
  help: string;
  /** Secret values are never logged, echoed in errors or sent to the relay in clear. */
  secret: boolean;
  /** Required fields must be filled for any node to run. */
  required: boolean;
}

/**
 * extension-tools 0.14 connection fields carry only `fieldName`; labels and help live here
 * and are reused by the README and the node descriptions.
 */
export const connectionFieldHelp: Record<ConnectionFieldName, ConnectionFieldHelp> = {
  apiAccessToken: {
    label: 'API Access Token',
    help: 'Engage ADMIN → API access tokens: the token of the agent that handles the chats. Only its fingerprint is sent to the relay.',
    secret: true,
    required: true,
  },
  botCategoryId: {
    label: 'Bot Category ID',
    help: 'CATEGORY_ID of the "Bot" sub-category (from …/admin/categories/CATEGORY_ID/edit).',
    secret: false,
    required: true,
  },
  agentCategoryId: {
    label: 'Agent Category ID',
    help: 'CATEGORY_ID of the "Agent" sub-category (from …/admin/categories/CATEGORY_ID/edit).',
    secret: false,
    required: true,
  },
  realtimeAccessToken: {
    label: 'Realtime Access Token',
    help: 'The "API access token" of the Engage Digital Source SDK source. Kept for parity with the Engage setup; the relay holds its own copy.',
    secret: true,
    required: false,
  },
  realtimeEndpointUrl: {
    label: 'Realtime Endpoint URL',
    help: "From the source's Implementation Details. Its last path segment is the source id that names the relay tenant.",
    secret: false,
    required: true,
  },
  webhookSecret: {
    label: 'Webhook Secret',
    help: 'The Secret of the Engage webhook. Kept for parity with the Engage setup; the relay holds its own copy.',
    secret: true,
    required: false,
  },
  baseApiUrl: {
    label: 'Base API URL',
    help:
      'Your Engage domain with "api" added, e.g. acme.api.engagement.dimelo.com; https://acme.api.engagement.dimelo.com and ' +
      'https://acme.api.engagement.dimelo.com/1.0 work too. Kept for parity; the relay holds its own copy.',
    secret: false,
    required: false,
  },
  relayUrl: {
    label: 'Relay URL',
    help: 'Base URL of the rce-handover relay, e.g. https://relay.example.com (https required except for localhost).',
    secret: false,
    required: true,
  },
  relayApiKey: {
    label: 'Relay API Key',
    help: 'Shared key the relay accepts for this tenant (at least 8 characters, as the relay requires). Used to sign requests; never sent.',
    secret: true,
    required: true,
  },
};

export const rceHandoverConnection: IConnectionSchema = {
  type: CONNECTION_TYPE,
  label: CONNECTION_LABEL,
  fields: CONNECTION_FIELD_NAMES.map((fieldName) => ({ fieldName })),
};

export interface RceConnection {
  apiAccessToken: string;
  botCategoryId: string;
  agentCategoryId: string;
  realtimeAccessToken: string;
  realtimeEndpointUrl: string;
  webhookSecret: string;
  /** Normalised to `https://<host>/1.0` (empty when not given). */
  baseApiUrl: string;
  /** Without a trailing slash. */
  relayUrl: string;
  relayApiKey: string;
  /** Derived from realtimeEndpointUrl. */
  sourceId: string;
}

export class ConnectionError extends Error {
  readonly code = 'invalid_connection';
  constructor(
    message: string,
    /** The first field at fault; undefined when no connection was selected at all. */
    readonly field?: ConnectionFieldName,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);
const CATEGORY_ID = /^[A-Za-z0-9_-]{1,256}$/;

// Every message below is written by us and mentions the field, never the value.
const text = (max = 4096) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? v.trim() : v),
    z
      .string({ error: (issue) => (issue.input === undefined || issue.input === null ? 'is missing' : 'must be text') })
      .max(max, { error: `is longer than ${max} characters` }),
  );
const requiredText = (max = 4096) => text(max).pipe(z.string().min(1, { error: 'is missing' }));
const optionalText = (max = 4096) => z.preprocess((v) => (v === undefined || v === null ? '' : v), text(max));

const categoryId = requiredText(256).refine((v) => CATEGORY_ID.test(v), {
  error: 'must be the CATEGORY_ID only (letters, digits, "-" or "_"), not the whole URL',
});

const connectionSchema = z.object({
  apiAccessToken: requiredText(),
  botCategoryId: categoryId,
  agentCategoryId: categoryId,
  realtimeAccessToken: optionalText(),
  realtimeEndpointUrl: requiredText(2048).refine((v) => sourceIdFromRealtimeEndpoint(v) !== null, {
    error: 'must be a URL whose last path segment is the Engage source id',
  }),
  webhookSecret: optionalText(),
  baseApiUrl: optionalText(2048).refine((v) => v === '' || normaliseBaseApiUrl(v) !== null, {
    error:
      'must be your Engage API host, e.g. acme.api.engagement.dimelo.com, https://acme.api.engagement.dimelo.com or ' +
      'https://acme.api.engagement.dimelo.com/1.0 (https; http only for localhost)',
  }),
  relayUrl: requiredText(2048).refine(isAcceptableRelayUrl, {
    error: 'must be an https URL without query or fragment (http only for localhost)',
  }),
  relayApiKey: requiredText().pipe(z.string().min(8, { error: 'is shorter than 8 characters' })),
});

/** The API version path Engage's REST API lives under. */
export const ENGAGE_API_PATH = '/1.0';

/**
 * The Base API URL in the one form used everywhere: `https://<host>/1.0`. Admins write it as the
 * seed says (`acme.api.engagement.dimelo.com`), as a URL without the version, or with `/1.0`;
 * all three mean the same. Anything else (another path, a query, http to a remote host) → null.
 */
export function normaliseBaseApiUrl(value: string): string | null {
  const trimmed = value.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return null;
  }
  // Plain http only for a simulator on this machine (the sandbox).
  const schemeOk = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  if (!schemeOk || url.search || url.hash || url.username || url.password || !url.hostname) return null;
  const path = url.pathname.replace(/\/+$/, '');
  if (path !== '' && path !== ENGAGE_API_PATH) return null;
  return `${url.protocol}//${url.host}${ENGAGE_API_PATH}`;
}

function isAcceptableRelayUrl(value: string): boolean {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.search || url.hash || url.username || url.password) return false;
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname);
}

/**
 * Parse the connection object Cognigy hands to a node (`config.connection`).
 * Throws ConnectionError naming every faulty field by label and key; values are never echoed.
 */
export function parseConnection(raw: unknown): RceConnection {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConnectionError(`No connection selected: choose a "${CONNECTION_LABEL}" connection in the node.`);
  }
  const result = connectionSchema.safeParse(raw);
  if (!result.success) {
    const problems: string[] = [];
    let firstField: ConnectionFieldName | undefined;
    for (const issue of result.error.issues) {
      const key = issue.path[0];
      if (typeof key !== 'string' || !isConnectionField(key)) continue;
      firstField ??= key;
      problems.push(`"${connectionFieldHelp[key].label}" (${key}) ${issue.message}`);
    }
    throw new ConnectionError(`Connection field ${problems.join('; ')}.`, firstField);
  }
  const value = result.data;
  return {
    ...value,
    baseApiUrl: value.baseApiUrl === '' ? '' : (normaliseBaseApiUrl(value.baseApiUrl) ?? ''),
    relayUrl: value.relayUrl.replace(/\/+$/, ''),
    // The refine above guarantees a source id.
    sourceId: sourceIdFromRealtimeEndpoint(value.realtimeEndpointUrl) ?? '',
  };
}

function isConnectionField(key: string): key is ConnectionFieldName {
  return (CONNECTION_FIELD_NAMES as readonly string[]).includes(key);
}

/** The connection's secret values, for scrubbing any text that leaves the node. */
export function connectionSecrets(connection: Partial<Record<ConnectionFieldName, unknown>>): string[] {
  return CONNECTION_FIELD_NAMES.filter((name) => connectionFieldHelp[name].secret)
    .map((name) => connection[name])
    .filter((v): v is string => typeof v === 'string' && v.trim().length >= 4)
    .map((v) => v.trim());
}

/** Replace every occurrence of a secret by "[redacted]". */
export function redactSecrets(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) out = out.split(secret).join('[redacted]');
  return out;
}

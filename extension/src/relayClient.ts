import axios, { AxiosError } from 'axios';
import { createHash, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { tokenFingerprint } from '../../contract/fingerprint';
import {
  RELAY_API_PREFIX,
  RELAY_ROUTES,
  relayErrorSchema,
  relayRequestSchemas,
  relayResponseSchemas,
  type CognigySession,
  type ConnectionFingerprint,
  type RelayRequestInput,
  type RelayResponse,
  type RelayRouteName,
} from '../../contract/relayApi';
import { RELAY_HEADERS, signRelayRequest, signRelayRequestV1 } from '../../contract/requestSigning';
import { connectionSecrets, redactSecrets, type RceConnection } from './connection';

/**
 * The extension's side of the relay contract: one function per route, exactly one HTTP call
 * each, no retries (the relay deduplicates on requestId, and a node has at most 20 s).
 */

export const RELAY_TIMEOUT_MS = 8000;
const MAX_RESPONSE_BYTES = 1024 * 1024;
const MAX_MESSAGE_CHARS = 500;

export type RelayCallErrorCode =
  | 'invalid_connection'
  | 'invalid_request'
  | 'missing_session'
  | 'relay_unreachable'
  | 'relay_timeout'
  | 'relay_bad_response'
  | (string & {});

/** Every failure of a relay call. `message` never contains a secret of the connection. */
export class RelayCallError extends Error {
  constructor(
    readonly code: RelayCallErrorCode,
    message: string,
    readonly field?: string,
    readonly httpStatus?: number,
  ) {
    super(message);
    this.name = 'RelayCallError';
  }
}

/** The axios instance every relay call goes through (tests and tools may add interceptors). */
export const relayHttp = axios.create({
  timeout: RELAY_TIMEOUT_MS,
  maxRedirects: 0,
  maxContentLength: MAX_RESPONSE_BYTES,
  responseType: 'text',
  // Keep the raw text: the body is parsed with the contract schema below, not guessed.
  transformResponse: [(data: unknown) => data],
  validateStatus: () => true,
  transitional: { clarifyTimeoutError: true },
});

/** What a node knows when it calls the relay. */
export interface RelayCallContext {
  connection: RceConnection;
  session: CognigySession;
  /** Cognigy's `input.inputId`; makes the requestId stable across Cognigy retries of one input. */
  inputId?: string | undefined;
}

/** The route's request body without the envelope the client fills in. */
export type RelayCallBody<R extends RelayRouteName> = Omit<RelayRequestInput<R>, 'requestId' | 'connection' | 'session'>;

export function connectionFingerprint(connection: RceConnection): ConnectionFingerprint {
  return {
    sourceId: connection.sourceId,
    botCategoryId: connection.botCategoryId,
    agentCategoryId: connection.agentCategoryId,
    apiAccessTokenFingerprint: tokenFingerprint(connection.apiAccessToken),
  };
}

/** Deterministic per (route, session, input) so a retried input is deduplicated by the relay. */
export function relayRequestId(route: RelayRouteName, session: CognigySession, inputId: string | undefined): string {
  if (!inputId || inputId.trim() === '') return randomUUID();
  const digest = createHash('sha256')
    .update([route, session.URLToken, session.userId, session.sessionId, inputId].join('\n'))
    .digest('hex');
  return `in-${digest.slice(0, 40)}`;
}

/** Read the Cognigy session triple from `input`; throws `missing_session` naming the field. */
export function sessionFromInput(input: { URLToken?: unknown; userId?: unknown; sessionId?: unknown }): CognigySession {
  for (const key of ['URLToken', 'userId', 'sessionId'] as const) {
    const value = input[key];
    if (typeof value !== 'string' || value.trim() === '') {
      throw new RelayCallError(
        'missing_session',
        `input.${key} is missing: the node must run in a conversation that came through a Cognigy Endpoint.`,
        `input.${key}`,
      );
    }
  }
  return {
    URLToken: String(input.URLToken).trim(),
    userId: String(input.userId).trim(),
    sessionId: String(input.sessionId).trim(),
  };
}

export async function callRelay<R extends RelayRouteName>(
  route: R,
  context: RelayCallContext,
  body: RelayCallBody<R>,
): Promise<RelayResponse<R>> {
  const { connection, session } = context;
  const secrets = connectionSecrets(connection);
  const request = {
    ...body,
    requestId: relayRequestId(route, session, context.inputId),
    connection: connectionFingerprint(connection),
    session,
  };
  const requestSchema: z.ZodType = relayRequestSchemas[route];
  const checked = requestSchema.safeParse(request);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    const field = issue ? issue.path.join('.') : undefined;
    throw new RelayCallError(
      'invalid_request',
      `The ${route} request is invalid at "${field ?? '(body)'}": ${issue?.message ?? 'unknown problem'}.`,
      field,
    );
  }

  const rawBody = JSON.stringify(checked.data);
  const timestamp = Math.floor(Date.now() / 1000);
  // Fresh per HTTP attempt: a quick retry of the same input is not mistaken for a replay.
  const nonce = randomUUID();
  const path = `${RELAY_API_PREFIX}${RELAY_ROUTES[route]}`;
  const url = `${connection.relayUrl}${path}`;
  const where = relayOrigin(connection.relayUrl);

  let status: number;
  let text: string;
  try {
    const response = await relayHttp.post<string>(url, rawBody, {
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        [RELAY_HEADERS.timestamp]: String(timestamp),
        [RELAY_HEADERS.nonce]: nonce,
        // v2 binds method, path and source into the MAC; v1 only for relays released before v2.
        [RELAY_HEADERS.signatureV2]: signRelayRequest(
          connection.relayApiKey,
          { method: 'POST', path, sourceId: connection.sourceId, timestampSeconds: timestamp, nonce },
          rawBody,
        ),
        [RELAY_HEADERS.signature]: signRelayRequestV1(connection.relayApiKey, timestamp, rawBody, nonce),
        [RELAY_HEADERS.source]: connection.sourceId,
      },
    });
    status = response.status;
    text = typeof response.data === 'string' ? response.data : '';
  } catch (error) {
    throw transportError(error, where, route);
  }

  const json = parseJson(text);
  if (status >= 200 && status < 300) {
    const responseSchema: z.ZodType<RelayResponse<R>> = relayResponseSchemas[route] as unknown as z.ZodType<RelayResponse<R>>;
    const parsed = responseSchema.safeParse(json);
    if (!parsed.success) {
      throw new RelayCallError(
        'relay_bad_response',
        `The relay at ${where} answered ${route} with a body that does not match the contract.`,
        undefined,
        status,
      );
    }
    return parsed.data;
  }
  const relayError = relayErrorSchema.safeParse(json);
  if (relayError.success) {
    const { code, message, field } = relayError.data.error;
    throw new RelayCallError(code, clip(redactSecrets(message, secrets)), field, status);
  }
  throw new RelayCallError(`relay_http_${status}`, `The relay at ${where} answered ${route} with HTTP ${status}.`, undefined, status);
}

export const startHandover = (context: RelayCallContext, body: RelayCallBody<'startHandover'>) => callRelay('startHandover', context, body);
export const sendUserMessage = (context: RelayCallContext, body: RelayCallBody<'userMessage'>) => callRelay('userMessage', context, body);
export const cancelHandover = (context: RelayCallContext, body: RelayCallBody<'cancelHandover'>) =>
  callRelay('cancelHandover', context, body);
export const queueStatus = (context: RelayCallContext, body: RelayCallBody<'queueStatus'> = {}) => callRelay('queueStatus', context, body);
export const sendProfile = (context: RelayCallContext, body: RelayCallBody<'sendProfile'>) => callRelay('sendProfile', context, body);
export const closeHandover = (context: RelayCallContext, body: RelayCallBody<'closeHandover'>) => callRelay('closeHandover', context, body);
export const agentAvailability = (context: RelayCallContext, body: RelayCallBody<'agentAvailability'> = {}) =>
  callRelay('agentAvailability', context, body);

function transportError(error: unknown, where: string, route: RelayRouteName): RelayCallError {
  const code = error instanceof AxiosError ? error.code : undefined;
  if (code === 'ETIMEDOUT' || code === 'ECONNABORTED') {
    return new RelayCallError('relay_timeout', `The relay at ${where} did not answer ${route} within ${RELAY_TIMEOUT_MS / 1000} s.`);
  }
  if (code === 'ERR_BAD_RESPONSE' || code === 'ERR_FR_MAX_CONTENT_LENGTH_EXCEEDED') {
    return new RelayCallError('relay_bad_response', `The relay at ${where} sent an unreadable answer to ${route}.`);
  }
  // Only the error code goes into the message: axios messages can quote request details.
  const cause = code ?? (error instanceof Error ? error.name : 'unknown error');
  return new RelayCallError('relay_unreachable', `The relay at ${where} is unreachable (${cause}).`);
}

function relayOrigin(relayUrl: string): string {
  try {
    return new URL(relayUrl).origin;
  } catch {
    return '(invalid relay URL)';
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function clip(message: string): string {
  return message.length > MAX_MESSAGE_CHARS ? `${message.slice(0, MAX_MESSAGE_CHARS)}…` : message;
}

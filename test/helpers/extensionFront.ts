import { createHash } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tokenFingerprint } from '../../contract/fingerprint';
import {
  RELAY_API_PREFIX,
  RELAY_ROUTES,
  relayRequestSchemas,
  type CognigySession,
  type RelayRequest,
  type RelayResponse,
  type RelayRouteName,
} from '../../contract/relayApi';
import { RELAY_HEADERS, verifyRelayRequest, type RelaySignatureCheck } from '../../contract/requestSigning';
import type { TenantConfig } from '../../relay/src/config';

/**
 * What the extension tests talk to, on 127.0.0.1: a recording front that checks every request's
 * signature with `verifyRelayRequest`, parses its body with the contract schema and keeps it for
 * assertions. Then the request is answered by:
 *  - the real relay behind it (`upstreamUrl`), forwarded byte for byte;
 *  - or, without one, a small in-memory stand-in that answers contract responses for `tenant`
 *    and can be scripted per route (status, body, delay).
 * A part of the relay rig (`startRelayRig({ front })`), not a harness of its own.
 */

export interface RecordedRelayRequest {
  route: RelayRouteName | null;
  path: string;
  headers: IncomingHttpHeaders;
  rawBody: string;
  signature: RelaySignatureCheck;
  /** The body parsed with the route's contract schema (null when it did not parse). */
  body: unknown;
  schemaError: string | null;
  status: number;
  /** The answer's body, parsed as JSON when it is JSON (undefined until answered). */
  response: unknown;
}

export interface ScriptedReply {
  status?: number;
  body: unknown;
  /** Answer after this many ms (to provoke the client timeout). */
  delayMs?: number;
}
export type Responder<R extends RelayRouteName> = (request: RelayRequest<R>) => ScriptedReply | Promise<ScriptedReply>;

export interface ExtensionFront {
  url: string;
  requests: RecordedRelayRequest[];
  requestsFor<R extends RelayRouteName>(route: R): (RecordedRelayRequest & { body: RelayRequest<R> })[];
  /** Stand-in only: answer a route with a script. */
  respondWith<R extends RelayRouteName>(route: R, responder: Responder<R>): void;
  /** Stand-in only: the queue state `queueStatus` reports for a session. */
  setQueue(session: CognigySession, queue: { position: number; estimatedWaitTime: number } | null): void;
  reset(): void;
  close(): Promise<void>;
}

const ROUTE_BY_PATH = new Map<string, RelayRouteName>(
  Object.entries(RELAY_ROUTES).map(([name, path]) => [`${RELAY_API_PREFIX}${path}`, name as RelayRouteName]),
);

function sessionKey(session: CognigySession): string {
  return `${session.URLToken}\n${session.userId}\n${session.sessionId}`;
}

function threadIdOf(sourceId: string, session: CognigySession): string {
  return `cg-${createHash('sha256')
    .update(`${sourceId}\n${sessionKey(session)}`)
    .digest('hex')
    .slice(0, 24)}`;
}

function errorBody(code: string, message: string, field?: string): unknown {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

/** Starts the front for `tenant`'s extension connection; with `upstreamUrl` it forwards to that relay, else the stand-in answers. */
export async function startExtensionFront(tenant: TenantConfig, upstreamUrl: string | null): Promise<ExtensionFront> {
  const { sourceId } = tenant;
  const apiKey = tenant.relayApiKey;

  const requests: RecordedRelayRequest[] = [];
  const responders = new Map<RelayRouteName, Responder<RelayRouteName>>();
  const queues = new Map<string, { position: number; estimatedWaitTime: number; updatedAt: string } | null>();
  const handovers = new Map<string, RelayResponse<'startHandover'>['status']>();
  const answered = new Map<string, { status: number; body: unknown }>();

  /** The in-memory stand-in: contract responses, idempotent on requestId like the relay (scripts are not). */
  const standIn = async (route: RelayRouteName, body: RelayRequest<RelayRouteName>): Promise<ScriptedReply> => {
    const fp = body.connection;
    const mismatch = (
      [
        ['botCategoryId', 'Bot Category ID', fp.botCategoryId === tenant.botCategoryId],
        ['agentCategoryId', 'Agent Category ID', fp.agentCategoryId === tenant.agentCategoryId],
        ['apiAccessToken', 'API Access Token', fp.apiAccessTokenFingerprint === tokenFingerprint(tenant.apiAccessToken)],
      ] as const
    ).find(([, , same]) => !same);
    if (mismatch) {
      const [field, label] = mismatch;
      const message = `The connection's ${label} differs from the relay's configuration for this source`;
      return { status: 409, body: errorBody('connection_mismatch', message, field) };
    }
    const scripted = responders.get(route);
    if (scripted) return scripted(body);
    const previous = answered.get(body.requestId);
    if (previous) return previous;
    const reply = await defaultReply(route, body);
    if ((reply.status ?? 200) < 300) answered.set(body.requestId, { status: reply.status ?? 200, body: reply.body });
    return reply;
  };

  const defaultReply = async (route: RelayRouteName, body: RelayRequest<RelayRouteName>): Promise<ScriptedReply> => {
    const key = sessionKey(body.session);
    const threadId = threadIdOf(sourceId, body.session);
    const current = handovers.get(key) ?? 'idle';
    const running = current === 'queued' || current === 'active';
    switch (route) {
      case 'startHandover':
        if (running) return { body: { threadId, status: current, started: false } };
        handovers.set(key, 'queued');
        return { body: { threadId, status: 'queued', started: true } };
      case 'userMessage':
        // Like the relay: a mirrored message is forwarded (under the Bot category) even without a handover.
        return { body: { forwarded: running || (body as RelayRequest<'userMessage'>).mirror, status: current } };
      case 'cancelHandover':
        if (!running) return { body: { status: current, cancelled: false } };
        handovers.set(key, 'cancelled');
        return { body: { status: 'cancelled', cancelled: true } };
      case 'queueStatus': {
        const queue = running ? queues.get(key) : null;
        return {
          body: {
            status: current,
            known: !!queue,
            position: queue?.position ?? null,
            estimatedWaitTime: queue?.estimatedWaitTime ?? null,
            updatedAt: queue?.updatedAt ?? null,
          },
        };
      }
      case 'sendProfile':
        return { body: { queued: true, authorId: `author-${threadId.slice(3)}` } };
      case 'closeHandover': {
        if (!running) return { body: { status: current, closed: false, outcome: 'not_running' } };
        handovers.set(key, 'completed');
        return { body: { status: 'completed', closed: true, outcome: current === 'active' ? 'closed' : 'cancelled' } };
      }
      case 'agentAvailability':
        return { body: { available: true, availableAgents: 1, checkedAt: new Date().toISOString() } };
    }
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks);
        const path = req.url ?? '';
        const route = ROUTE_BY_PATH.get(path) ?? null;
        const header = (name: string): string | undefined => {
          const v = req.headers[name];
          return Array.isArray(v) ? v[0] : v;
        };
        const signature = verifyRelayRequest({
          acceptedKeys: [apiKey],
          timestampHeader: header(RELAY_HEADERS.timestamp),
          signatureHeader: header(RELAY_HEADERS.signatureV2),
          nonceHeader: header(RELAY_HEADERS.nonce),
          sourceHeader: header(RELAY_HEADERS.source),
          legacySignatureHeader: header(RELAY_HEADERS.signature),
          method: req.method ?? '',
          path,
          rawBody: raw,
          nowSeconds: Math.floor(Date.now() / 1000),
        });
        const recorded: RecordedRelayRequest = {
          route,
          path,
          headers: req.headers,
          rawBody: raw.toString('utf8'),
          signature,
          body: null,
          schemaError: null,
          status: 0,
          response: undefined,
        };
        requests.push(recorded);
        let json: unknown;
        try {
          json = JSON.parse(recorded.rawBody);
        } catch {
          json = undefined;
        }
        if (route) {
          const parsed = relayRequestSchemas[route].safeParse(json);
          if (parsed.success) recorded.body = parsed.data;
          else recorded.schemaError = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
        }

        let reply: ScriptedReply;
        if (upstreamUrl) {
          reply = await forward(upstreamUrl, path, req.headers, raw);
        } else if (!route) reply = { status: 404, body: errorBody('unknown_route', `No relay API route ${path}`) };
        else if (header(RELAY_HEADERS.source) !== sourceId) {
          reply = {
            status: 401,
            body: errorBody('unknown_source', 'No tenant for this Realtime Endpoint URL (source id) on the relay', 'realtimeEndpointUrl'),
          };
        } else if (!signature.ok) {
          reply = {
            status: 401,
            body: errorBody(
              signature.reason,
              'Request signature rejected (check the Relay API Key and the clock)',
              signature.reason === 'bad_signature' ? 'relayApiKey' : undefined,
            ),
          };
        } else if (recorded.schemaError !== null) reply = { status: 400, body: errorBody('invalid_request', recorded.schemaError) };
        else reply = await standIn(route, recorded.body as RelayRequest<RelayRouteName>);
        if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
        recorded.status = reply.status ?? 200;
        const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        try {
          recorded.response = JSON.parse(text) as unknown;
        } catch {
          recorded.response = text;
        }
        if (res.destroyed) return;
        res.writeHead(recorded.status, { 'content-type': 'application/json' });
        res.end(text);
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    requestsFor: <R extends RelayRouteName>(route: R) =>
      requests.filter((r) => r.route === route) as (RecordedRelayRequest & { body: RelayRequest<R> })[],
    respondWith: <R extends RelayRouteName>(route: R, responder: Responder<R>) => {
      if (upstreamUrl) throw new Error('respondWith needs the stand-in');
      responders.set(route, responder as unknown as Responder<RelayRouteName>);
    },
    setQueue: (session, queue) => {
      if (upstreamUrl) throw new Error('setQueue needs the stand-in');
      queues.set(sessionKey(session), queue ? { ...queue, updatedAt: new Date().toISOString() } : null);
    },
    reset: () => {
      requests.length = 0;
      responders.clear();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function forward(base: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<ScriptedReply> {
  const pass: Record<string, string> = {};
  for (const name of [
    'content-type',
    RELAY_HEADERS.timestamp,
    RELAY_HEADERS.nonce,
    RELAY_HEADERS.signature,
    RELAY_HEADERS.signatureV2,
    RELAY_HEADERS.source,
  ]) {
    const v = headers[name];
    if (typeof v === 'string') pass[name] = v;
  }
  const response = await fetch(`${base}${path}`, { method: 'POST', headers: pass, body: body.toString('utf8') });
  return { status: response.status, body: await response.text() };
}

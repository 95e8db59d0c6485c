import autocannon from 'autocannon';
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { percentileSorted, sortedCopy } from './common';

/**
 * Load generation with autocannon (programmatic), always bounded in time and in count.
 *
 * Two modes:
 *  - `max`: `connections` closed-loop connections for `seconds` (capped at `maxRequests`): req/s.
 *  - `paced`: `rate` requests per second spread evenly over the run (each connection sends on its
 *    own schedule, offset from the others), exactly `rate × seconds` requests. Autocannon's own
 *    `overallRate` sends each connection's per-second quota back to back at the start of every
 *    second — a burst at full concurrency, not 1,000 msg/s — so the paced mode re-times each
 *    client's next request through the documented `setupClient` hook instead (set
 *    BENCH_RATE_MODE=autocannon to use `overallRate` as is).
 *
 * Latency is recorded per 2xx response with sub-millisecond resolution from autocannon's
 * `response` event (its own histogram rounds to whole milliseconds).
 */

export interface AgentReplyLoad {
  url: string;
  /** Conversations to reply into (round robin). */
  threadIds: readonly string[];
  realtimeToken: string;
  /** Prefix of the content ids of this run; content ids are `${runTag}${n}`, unique per run. */
  runTag: string;
}

export type LoadMode =
  | { kind: 'max'; connections: number; seconds: number; maxRequests: number }
  | { kind: 'paced'; rate: number; connections: number; seconds: number };

export interface LoadResult {
  mode: LoadMode['kind'];
  /** Requests answered (any status). */
  answered: number;
  /** 200 with a `{"id": ...}` body: replies the relay took responsibility for. */
  accepted: number;
  /** 200 whose body was not `{"id"...}` (e.g. an item error) — should be 0. */
  refused: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  /** accepted / durationS */
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Wall-clock end of the run (Date.now()). */
  endedAt: number;
  /** Content ids accepted (to check end-to-end delivery). */
  acceptedIds: number;
  /**
   * When request i (content id `${runTag}${i}`) was sent, as epoch ms with sub-ms resolution
   * (`performance.timeOrigin + performance.now()`, the clock the Cognigy stub stamps arrivals with).
   */
  sentAtMs: readonly number[];
  /** Count per HTTP status, and the first body seen for each non-200 status (diagnostics). */
  statuses: Record<string, number>;
  sampleErrors: Record<string, string>;
}

interface PacedClient {
  destroyed: boolean;
  _doRequest: () => void;
}

function isoNow(): string {
  return new Date().toISOString();
}

/** A signed Source SDK `messages.create`, in the key order Engage uses. */
export function agentReplyBody(threadId: string, contentId: string, time: string): string {
  return JSON.stringify({
    action: 'messages.create',
    params: {
      author_id: 'cog-bot-bench',
      body: `Hello from agent Anna, reply ${contentId}. How can I help you today?`,
      content_id: contentId,
      created_at: time,
      updated_at: time,
      format: 'text',
      in_reply_to_id: null,
      sender_name: 'Anna Agent',
      thread_id: threadId,
      title: null,
    },
    time,
  });
}

export async function runAgentReplyLoad(target: AgentReplyLoad, mode: LoadMode): Promise<LoadResult> {
  let n = 0;
  let accepted = 0;
  let refused = 0;
  const latencies: number[] = [];
  const sentAtMs: number[] = [];
  const statuses: Record<string, number> = {};
  const sampleErrors: Record<string, string> = {};
  const threadCount = target.threadIds.length;

  const request: autocannon.Request = {
    method: 'POST',
    path: '/handover/rce',
    setupRequest: (req) => {
      const i = n++;
      sentAtMs[i] = performance.timeOrigin + performance.now();
      const time = isoNow();
      const body = agentReplyBody(target.threadIds[i % threadCount] as string, `${target.runTag}${i}`, time);
      req.body = body;
      req.headers = {
        'content-type': 'application/json',
        'x-smccsdk-signature': createHmac('sha512', target.realtimeToken).update(body).digest('hex'),
      };
      return req;
    },
    onResponse: (status, body) => {
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 200) {
        sampleErrors[status] ??= body.slice(0, 200);
        return;
      }
      if (body.startsWith('{"id":')) accepted += 1;
      else {
        refused += 1;
        sampleErrors['200'] ??= body.slice(0, 200);
      }
    },
  };

  const useAutocannonRate = mode.kind === 'paced' && process.env.BENCH_RATE_MODE === 'autocannon';
  let clientIndex = 0;
  const t0 = performance.now();
  const options: autocannon.Options = {
    url: target.url,
    connections: mode.connections,
    pipelining: 1,
    timeout: 10,
    requests: [request],
    excludeErrorStats: true,
  };
  if (mode.kind === 'max') {
    options.duration = mode.seconds;
    options.maxOverallRequests = mode.maxRequests;
  } else {
    options.amount = mode.rate * mode.seconds;
    if (useAutocannonRate) options.overallRate = mode.rate;
    else {
      const periodMs = (mode.connections * 1000) / mode.rate;
      options.setupClient = (client) => {
        const c = client as unknown as PacedClient;
        const index = clientIndex++;
        let next = t0 + 50 + (index * periodMs) / mode.connections;
        const send = c._doRequest.bind(c);
        c._doRequest = () => {
          if (c.destroyed) return;
          const wait = next - performance.now();
          next += periodMs;
          if (wait > 0.25) {
            setTimeout(() => {
              if (!c.destroyed) send();
            }, wait);
          } else send();
        };
      };
    }
  }

  let lastResponseAt = 0;
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (err, res) => (err ? reject(err) : resolve(res)));
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      lastResponseAt = performance.now();
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
    // Count-bounded runs are also time-bounded.
    const guard = setTimeout(() => instance.stop(), (mode.seconds + 20) * 1000);
    instance.once('done', () => clearTimeout(guard));
  });
  const endedAt = Date.now();
  // Paced: from the first scheduled send to the last answer (autocannon reports only at its next 1 s sample tick).
  const durationS = mode.kind === 'max' ? result.duration : (lastResponseAt - (useAutocannonRate ? t0 : t0 + 50)) / 1000;
  const sorted = sortedCopy(latencies);
  return {
    mode: mode.kind,
    answered: result.requests.total,
    accepted,
    refused,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS,
    rps: accepted / durationS,
    p50Ms: percentileSorted(sorted, 50),
    p90Ms: percentileSorted(sorted, 90),
    p99Ms: percentileSorted(sorted, 99),
    p999Ms: percentileSorted(sorted, 99.9),
    maxMs: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
    endedAt,
    acceptedIds: accepted,
    sentAtMs,
    statuses,
    sampleErrors,
  };
}

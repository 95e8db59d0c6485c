import { Counter, type Registry } from 'prom-client';
import { RELAY_API_PREFIX } from '../../../contract/relayApi';

/**
 * HTTP requests by route and status. Counting is one array increment (the Engage route is the
 * relay's hot path); prom-client reads the counts only when /metrics is scraped. The counts are
 * per process, like the request listeners' traffic they describe.
 */

/** A fixed set of route labels: never the raw path (unbounded, and a scanner would flood it). */
export type HttpRoute = 'engage' | 'webhook_verify' | 'extension_api' | 'healthz' | 'readyz' | 'metrics' | 'other';

const STATUS_SLOTS = 600;
const countsByRoute = new Map<HttpRoute, Float64Array>();

/** The counter of one route, labels bound once: `count(status)` on every answer. */
export function requestCounter(route: HttpRoute): (status: number) => void {
  let counts = countsByRoute.get(route);
  if (!counts) {
    counts = new Float64Array(STATUS_SLOTS);
    countsByRoute.set(route, counts);
  }
  const byStatus = counts;
  return (status) => {
    byStatus[status >= 0 && status < STATUS_SLOTS ? status : 0]! += 1;
  };
}

const boundByRoute = new Map<HttpRoute, (status: number) => void>();

/** For routes served by Express: the route label from the method and path. */
export function countExpressRequest(method: string, path: string, status: number): void {
  const route = routeOf(method, path);
  let count = boundByRoute.get(route);
  if (!count) {
    count = requestCounter(route);
    boundByRoute.set(route, count);
  }
  count(status);
}

export function routeOf(method: string, path: string): HttpRoute {
  const p = path.toLowerCase();
  if (p === '/healthz') return 'healthz';
  if (p === '/readyz') return 'readyz';
  if (p === '/metrics') return 'metrics';
  if (/^\/handover\/rce(?:\/|$)/.test(p)) return method === 'POST' ? 'engage' : 'webhook_verify';
  if (p.startsWith(`${RELAY_API_PREFIX}/`)) return 'extension_api';
  return 'other';
}

export function registerHttpRequestMetrics(registry: Registry): void {
  new Counter({
    name: 'rce_http_requests_total',
    help: 'HTTP requests answered, by route and status.',
    labelNames: ['route', 'status'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [route, counts] of countsByRoute) {
        counts.forEach((n, status) => {
          if (n > 0) this.inc({ route, status: status === 0 ? 'other' : String(status) }, n);
        });
      }
    },
  });
}

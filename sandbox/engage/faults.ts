import { STATUS_CODES } from 'node:http';
import { SEND_API_ERRORS } from './sendApi';

/** Test-only fault injection: the next matching requests fail with a status and/or are delayed. */

export interface FaultSpec {
  api: 'send' | 'rest';
  /** Answer this status (documented body shape). Omit to only delay. */
  status?: number;
  /** How many matching requests are affected (default 1). */
  count?: number;
  /** Adds a Retry-After header (seconds). */
  retryAfterSeconds?: number;
  /** Hold the request this long before answering (or before processing it normally). */
  delayMs?: number;
  /** Only requests whose path contains this string. */
  pathIncludes?: string;
}

export interface ActiveFault {
  status?: number;
  retryAfterSeconds?: number;
  delayMs?: number;
}

export class FaultInjector {
  private readonly faults: Array<FaultSpec & { remaining: number }> = [];

  add(spec: FaultSpec): void {
    const count = spec.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error('failNext: count must be a positive integer');
    if (spec.status === undefined && spec.delayMs === undefined) throw new Error('failNext: give a status and/or delayMs');
    this.faults.push({ ...spec, remaining: count });
  }

  /** Consumes one use of the first fault matching this request. */
  take(api: 'send' | 'rest', path: string): ActiveFault | undefined {
    const index = this.faults.findIndex(
      (fault) => fault.api === api && (fault.pathIncludes === undefined || path.includes(fault.pathIncludes)),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults.splice(index, 1);
    const active: ActiveFault = {};
    if (fault.status !== undefined) active.status = fault.status;
    if (fault.retryAfterSeconds !== undefined) active.retryAfterSeconds = fault.retryAfterSeconds;
    if (fault.delayMs !== undefined) active.delayMs = fault.delayMs;
    return active;
  }

  clear(): void {
    this.faults.length = 0;
  }
}

/** Send API errors are plain text; use the documented wording where one exists. */
export function sendApiFaultBody(status: number): string {
  switch (status) {
    case 400:
      return SEND_API_ERRORS.badRequest;
    case 413:
      return SEND_API_ERRORS.tooLarge;
    case 422:
      return SEND_API_ERRORS.invalidResourceFormat;
    case 429:
      return SEND_API_ERRORS.tooManyTyping;
    default:
      return STATUS_CODES[status] ?? 'Error';
  }
}

import type { IncomingMessage } from 'node:http';
import type { BytesInFlight } from './bytesInFlight';

export type BodyOutcome =
  | { ok: true; body: Buffer }
  | { ok: false; status: 400 | 413 | 415 | 429; reason: string; closeConnection: boolean; headers?: Record<string, string> };

/** Whose bytes these are, for the in-flight budget. */
export interface BodyBudget {
  bytesInFlight: BytesInFlight;
  address: string;
}

/**
 * Reads a request body of at most `limit` bytes. A declared Content-Length over the limit is
 * refused before a byte is read; a body that grows past it (chunked) stops being collected at
 * once. Only identity encoding: Engage sends plain JSON, and inflating untrusted gzip is a
 * decompression-bomb risk for nothing.
 */
export function readBoundedBody(req: IncomingMessage, limit: number, budget?: BodyBudget): Promise<BodyOutcome> {
  const encoding = req.headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    return Promise.resolve({ ok: false, status: 415, reason: 'Unsupported Content-Encoding (send identity)', closeConnection: true });
  }
  const tooLarge = (): BodyOutcome => ({ ok: false, status: 413, reason: `Body larger than ${limit} bytes`, closeConnection: true });
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.resolve(tooLarge());
  // Reserve before reading: the declared length, or the whole limit for a chunked body. Refused
  // with 429 either way (the caller retries after a second; Engage and the extension both do):
  // a full total budget means clients are sending too much, not that the relay is broken.
  const reservation = budget?.bytesInFlight.reserve(budget.address, declared !== undefined ? Number(declared) : limit);
  if (reservation && 'refused' in reservation) {
    const reason =
      reservation.refused === 'address'
        ? 'Too many request bytes in flight from this address'
        : 'Too many request bytes in flight, retry later';
    return Promise.resolve({ ok: false, status: 429, reason, closeConnection: true, headers: { 'Retry-After': '1' } });
  }

  return new Promise<BodyOutcome>((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (outcome: BodyOutcome) => {
      if (settled) return;
      settled = true;
      reservation?.release();
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      req.off('close', onAborted);
      resolve(outcome);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        settle(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => settle({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    const onError = () => settle({ ok: false, status: 400, reason: 'Request body could not be read', closeConnection: true });
    const onAborted = () => settle({ ok: false, status: 400, reason: 'Request aborted', closeConnection: true });
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
    // A client gone mid-body: 'close' without 'end' (after 'end' the outcome is already settled).
    req.on('close', onAborted);
  });
}

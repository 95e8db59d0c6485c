import { createHash } from 'node:crypto';
import type { TranscriptLine } from '../../../contract/relayApi';

/**
 * What a session already sent to Engage, so a second handover does not repeat the first one's
 * transcript. Lines with a time are compared with the newest time sent (`until`: a transcript line,
 * or the moment a message was forwarded live); lines without one by a hash of role and text.
 */
export interface TranscriptSent {
  until: string | null;
  hashes: string[];
}

/** Bounded: the hashes of the last lines only (a Get Transcript holds at most 500). */
const MAX_HASHES = 500;

function hashOf(line: TranscriptLine): string {
  return createHash('sha256').update(`${line.role}\n${line.text}`).digest('hex').slice(0, 24);
}

export function alreadySent(line: TranscriptLine, sent: TranscriptSent): boolean {
  if (line.at) return sent.until !== null && Date.parse(line.at) <= Date.parse(sent.until);
  return sent.hashes.includes(hashOf(line));
}

/** Adds a sent transcript line, or (line null) a message forwarded now. */
export function rememberSent(sent: TranscriptSent, line: TranscriptLine | null, nowIso: string): TranscriptSent {
  const at = line ? line.at : nowIso;
  const until =
    at && (sent.until === null || Date.parse(at) > Date.parse(sent.until)) ? new Date(Date.parse(at)).toISOString() : sent.until;
  const hashes = line && !line.at ? [...sent.hashes, hashOf(line)].slice(-MAX_HASHES) : sent.hashes;
  return { until, hashes };
}

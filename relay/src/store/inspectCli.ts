import type { Writable } from 'node:stream';
import { z } from 'zod';
import { openStore } from './openStore';
import type { Conversation, HistoryEntry, JobNote, OutboxJob, OutboxJobKind, Store } from './types';

/**
 * `relay inspect <sessionId | threadId | Engage thread id> [--json]` — one conversation's timeline
 * from the store: status changes, queue updates, the Engage thread, and every outbox job with its
 * attempts, errors and delivery time. Answers "where is my message?". Needs only STORE_URL.
 *
 * Printed: ids, statuses, job kinds, error texts (the outbox keeps them code-only) and at most the
 * first characters and the length of a message body (the store keeps no more than that in the
 * timeline). Never printed: the Cognigy URLToken, message bodies in full, attachment URLs.
 */
const argsSchema = z.union([z.tuple([z.string().min(1)]), z.tuple([z.string().min(1), z.literal('--json')])]);
export const INSPECT_USAGE = 'Usage: relay inspect <sessionId | threadId | Engage thread id> [--json]';

const iso = (ms: number): string => new Date(ms).toISOString();

interface JobStory {
  id: string;
  kind: OutboxJobKind;
  summary: string;
  queuedAt: number | null;
  failures: { at: number; attempt: number; error: string; nextAttemptAt: number }[];
  outcome: { type: 'delivered' | 'dead'; at: number; attempt: number; error?: string } | null;
}

/** What `relay inspect` shows of a job still in the outbox: never its payload (it holds the URLToken and full bodies). */
export interface PendingJob {
  id: string;
  kind: OutboxJobKind;
  queuedAt: number;
  attempts: number;
  nextAttemptAt: number;
  /** Only for a job whose write left no timeline entry (JobNote); else the write entry has it. */
  summary?: string;
}

export function pendingJobView(job: OutboxJob): PendingJob {
  const view: PendingJob = {
    id: job.id,
    kind: job.kind,
    queuedAt: job.createdAt,
    attempts: job.attempts,
    nextAttemptAt: job.nextAttemptAt,
  };
  if (job.note) view.summary = job.note.summary;
  return view;
}

/**
 * Each job's life, from the timeline and the jobs still pending: when it was queued, each failed
 * attempt, how it ended. A write that only queued jobs left no entry: its jobs are told by their
 * attempt entries (which carry the note) or, while they wait for their first attempt, by `pending`.
 */
export function jobStories(history: readonly HistoryEntry[], pending: readonly PendingJob[] = []): JobStory[] {
  const stories = new Map<string, JobStory>();
  const story = (id: string, kind: OutboxJobKind): JobStory => {
    let s = stories.get(id);
    if (!s) {
      s = { id, kind, summary: '', queuedAt: null, failures: [], outcome: null };
      stories.set(id, s);
    }
    return s;
  };
  for (const e of history) {
    if (e.type === 'write') {
      for (const j of e.jobs) Object.assign(story(j.id, j.kind), { summary: j.summary, queuedAt: e.at });
      continue;
    }
    if (e.note) {
      const s = story(e.jobId, e.kind);
      s.summary ||= e.note.summary;
      s.queuedAt ??= e.queuedAt ?? null;
    }
    if (e.type === 'retry') {
      story(e.jobId, e.kind).failures.push({ at: e.at, attempt: e.attempt, error: e.error, nextAttemptAt: e.nextAttemptAt });
    } else if (e.type === 'delivered') {
      const s = story(e.jobId, e.kind);
      s.queuedAt ??= e.queuedAt;
      s.outcome = { type: 'delivered', at: e.at, attempt: e.attempt };
    } else {
      story(e.jobId, e.kind).outcome = { type: 'dead', at: e.at, attempt: e.attempt, error: e.error };
    }
  }
  for (const job of pending) {
    const s = story(job.id, job.kind);
    if (job.summary !== undefined) s.summary ||= job.summary;
    s.queuedAt ??= job.queuedAt;
  }
  return [...stories.values()];
}

/** A job queued by a write that left no entry: what it is and where it came from. */
const noteText = (note: JobNote | undefined): string => (note ? ` (${note.source}: ${note.summary})` : '');

function timelineLine(e: HistoryEntry): string[] {
  const at = iso(e.at);
  switch (e.type) {
    case 'write': {
      const what: string[] = [];
      if (e.status) what.push(`status ${e.status.from ?? '(new)'} → ${e.status.to}`);
      if (e.queue) what.push(`queue position ${e.queue.position}, about ${Math.round(e.queue.estimatedWaitTimeMs / 1000)} s`);
      if (e.engageThreadId) what.push(`Engage thread ${e.engageThreadId}`);
      return [
        `${at}  ${e.source.padEnd(13)} ${what.join('; ') || '—'}`,
        ...e.jobs.map((j) => `${' '.repeat(at.length + 16)}+ job ${j.id} ${j.kind}: ${j.summary}`),
      ];
    }
    case 'delivered':
      return [
        `${at}  ${'delivered'.padEnd(13)} job ${e.jobId} ${e.kind}${noteText(e.note)}, attempt ${e.attempt}, ${e.at - e.queuedAt} ms after it was queued`,
      ];
    case 'retry':
      return [
        `${at}  ${'failed'.padEnd(13)} job ${e.jobId} ${e.kind}${noteText(e.note)}, attempt ${e.attempt}: ${e.error}; next attempt ${iso(e.nextAttemptAt)}`,
      ];
    case 'dead':
      return [
        `${at}  ${'gave up'.padEnd(13)} job ${e.jobId} ${e.kind}${noteText(e.note)}, attempt ${e.attempt}: ${e.error} (see relay dead-letters show ${e.jobId})`,
      ];
  }
}

function jobLine(s: JobStory): string {
  const queued = s.queuedAt === null ? 'queued before the timeline starts' : `queued ${iso(s.queuedAt)}`;
  const lastFailure = s.failures.at(-1);
  let outcome: string;
  if (s.outcome?.type === 'delivered')
    outcome = `DELIVERED ${iso(s.outcome.at)} (attempt ${s.outcome.attempt}${s.queuedAt === null ? '' : `, after ${s.outcome.at - s.queuedAt} ms`})`;
  else if (s.outcome?.type === 'dead')
    outcome = `GAVE UP ${iso(s.outcome.at)} after ${s.outcome.attempt} attempt(s): ${s.outcome.error ?? ''}`;
  else if (lastFailure)
    outcome = `PENDING: attempt ${lastFailure.attempt} failed (${lastFailure.error}), next attempt ${iso(lastFailure.nextAttemptAt)}`;
  else outcome = 'PENDING: not delivered yet';
  return `${s.id}  ${s.kind}  ${s.summary || '(summary not kept)'}\n    ${queued} → ${outcome}`;
}

function header(c: Conversation, entries: number): string[] {
  return [
    `Conversation ${c.threadId} (tenant ${c.tenantId})`,
    `  Cognigy session  sessionId=${c.session.sessionId} userId=${c.session.userId}`,
    `  status           ${c.status} (handover #${c.handoverCount})${c.queue ? `, queue position ${c.queue.position} at ${c.queue.receivedAt}` : ''}`,
    `  Engage           thread ${c.engageThreadId ?? '(not known yet)'}, intervention ${c.interventionId ?? '—'}`,
    `  created          ${c.createdAt}, last written ${c.updatedAt}`,
    `  timeline         ${entries} entr${entries === 1 ? 'y' : 'ies'} (the newest are kept, the oldest dropped)`,
  ];
}

/** The conversation without what must not leave the store (the session's URLToken). */
function printable(c: Conversation): Omit<Conversation, 'session'> & { session: Omit<Conversation['session'], 'URLToken'> } {
  const { URLToken: _token, ...session } = c.session;
  return { ...c, session };
}

export async function runInspectCommand(args: string[], opts: { storeUrl: string; out: Writable; store?: Store }): Promise<number> {
  const parsed = argsSchema.safeParse(args);
  if (!parsed.success) {
    opts.out.write(`${INSPECT_USAGE}\n`);
    return 2;
  }
  const [ref, json] = parsed.data;
  const store = opts.store ?? (await openStore(opts.storeUrl));
  try {
    const conversations = await store.findConversations(ref);
    if (conversations.length === 0) {
      opts.out.write(
        `No conversation with thread id, Cognigy session id or Engage thread id "${ref}" in this store (unknown, or removed after RETENTION_DAYS).\n`,
      );
      return 1;
    }
    const found = await Promise.all(
      conversations.map(async (c) => ({
        conversation: c,
        history: await store.readHistory(c.tenantId, c.threadId),
        pending: (await store.pendingJobsOf(c.tenantId, c.threadId)).map(pendingJobView),
      })),
    );
    if (json) {
      opts.out.write(
        `${JSON.stringify(
          found.map((f) => ({ conversation: printable(f.conversation), history: f.history, pending: f.pending })),
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    for (const { conversation, history, pending } of found) {
      const lines = [
        ...header(conversation, history.length),
        '',
        'Timeline (oldest first)',
        ...history.flatMap(timelineLine).map((l) => `  ${l}`),
      ];
      const stories = jobStories(history, pending);
      lines.push('', `Jobs (${stories.length})`, ...stories.map((s) => `  ${jobLine(s)}`), '');
      opts.out.write(`${lines.join('\n')}\n`);
    }
    return 0;
  } finally {
    if (!opts.store) await store.close();
  }
}

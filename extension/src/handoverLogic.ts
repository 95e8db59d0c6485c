import {
  injectedHandoverEventSchema,
  type HandoverStatus,
  type InjectedHandoverEvent,
} from '../../contract/relayApi';
import type { UserAttachment } from '../../contract/userAttachment';

/**
 * The Handover node's decisions, free of Cognigy and HTTP: which branch an injected event takes,
 * whether a user input is a cancel request, and what the queue message says.
 */

export const HANDOVER_CHILD_TYPES = {
  queueUpdate: 'onQueueUpdate',
  agentJoined: 'onAgentJoined',
  returnToBot: 'onReturnToBot',
  cancel: 'onCancel',
  error: 'onError',
} as const;
export type HandoverChildType = (typeof HANDOVER_CHILD_TYPES)[keyof typeof HANDOVER_CHILD_TYPES];

/** Quick-reply payload of the optional "Cancel" button. */
export const CANCEL_PAYLOAD = 'RCE_HANDOVER_CANCEL';
export const EVENT_SOURCE = 'rce-handover';

/** What the node keeps in `context[<storage key>]`. */
export interface HandoverState {
  active: boolean;
  threadId: string | null;
  status: HandoverStatus;
  startedAt: string | null;
  updatedAt: string;
  endedAt?: string | null;
  /** Latest queue position reported by Engage. */
  position?: number | null;
  /** Latest estimated wait, milliseconds. */
  estimatedWaitTime?: number | null;
  agentName?: string | null;
  error?: { code: string; message: string } | null;
  /** `input.inputId` of the last input the node handled (idempotency per input). */
  lastInputId?: string | null;
}

export interface EventRoute {
  child: HandoverChildType;
  /** Whether the handover is still running after this event (the node stays the entry point). */
  staysActive: boolean;
  status: HandoverStatus;
}

/** The routing table for events the relay injects as `input.data.handover`. */
export const EVENT_ROUTES: Record<InjectedHandoverEvent['status'], EventRoute> = {
  queue: { child: HANDOVER_CHILD_TYPES.queueUpdate, staysActive: true, status: 'queued' },
  active: { child: HANDOVER_CHILD_TYPES.agentJoined, staysActive: true, status: 'active' },
  completed: { child: HANDOVER_CHILD_TYPES.returnToBot, staysActive: false, status: 'completed' },
  cancelled: { child: HANDOVER_CHILD_TYPES.cancel, staysActive: false, status: 'cancelled' },
  error: { child: HANDOVER_CHILD_TYPES.error, staysActive: false, status: 'error' },
};

export type InputClassification =
  | { kind: 'event'; event: InjectedHandoverEvent }
  /** Claims to come from our relay but is malformed: never treat it as user text. */
  | { kind: 'malformedEvent' }
  | { kind: 'userInput' };

/** Tell a relay-injected handover event from a user's input. */
export function classifyInput(input: { data?: unknown }): InputClassification {
  const data = input.data;
  if (data === null || typeof data !== 'object') return { kind: 'userInput' };
  const handover = (data as { handover?: unknown }).handover;
  if (handover === null || typeof handover !== 'object') return { kind: 'userInput' };
  if ((handover as { source?: unknown }).source !== EVENT_SOURCE) return { kind: 'userInput' };
  const parsed = injectedHandoverEventSchema.safeParse(handover);
  return parsed.success ? { kind: 'event', event: parsed.data } : { kind: 'malformedEvent' };
}

export type EventDecision =
  | { action: 'route'; route: EventRoute; state: HandoverState }
  /** Stale, foreign or duplicate: update nothing, say nothing. */
  | { action: 'ignore'; reason: 'no_handover' | 'other_thread' | 'already_ended' };

/** Decide what an injected event does given the stored state. */
export function decideEvent(event: InjectedHandoverEvent, state: HandoverState | null): EventDecision {
  if (!state?.threadId) return { action: 'ignore', reason: 'no_handover' };
  if (state.threadId !== event.threadId) return { action: 'ignore', reason: 'other_thread' };
  // Events after the end (a late queue update, the echo of our own cancel) change nothing.
  if (!state.active) return { action: 'ignore', reason: 'already_ended' };
  return { action: 'route', route: EVENT_ROUTES[event.status], state };
}

/** The state after an event was routed. */
export function applyEvent(state: HandoverState, event: InjectedHandoverEvent, route: EventRoute, now: string): HandoverState {
  const next: HandoverState = { ...state, active: route.staysActive, status: route.status, updatedAt: now };
  if (event.status === 'queue') {
    next.position = event.position ?? null;
    next.estimatedWaitTime = event.estimatedWaitTime ?? null;
  }
  if (event.status === 'active') {
    next.agentName = event.agentName ?? null;
    next.position = null;
    next.estimatedWaitTime = null;
  }
  if (!route.staysActive) next.endedAt = now;
  if (event.status === 'error') {
    next.error = { code: event.error?.reason ?? 'handover_error', message: event.error?.message ?? 'The handover failed.' };
  }
  return next;
}

/**
 * `input.handover` as Cognigy's built-in handovers set it (IHandoverStatusInputObject in
 * `@cognigy/rest-api-client`: status, eventType, error, data), so a Lookup node of type
 * "Handover Status" and Flows written for built-in handovers work unchanged. Statuses are
 * Cognigy's; eventType is Cognigy's "queueUpdate" for queue updates and our own name otherwise.
 */
export interface HandoverStatusInput {
  status: InjectedHandoverEvent['status'];
  eventType: string;
  data: Record<string, unknown>;
  error?: { reason: 'error'; message: string };
}

const EVENT_TYPES: Record<InjectedHandoverEvent['status'], string> = {
  queue: 'queueUpdate',
  active: 'agentJoined',
  completed: 'conversationClosed',
  cancelled: 'conversationCancelled',
  error: 'conversationFailed',
};

export function handoverStatusInput(event: InjectedHandoverEvent): HandoverStatusInput {
  const data: Record<string, unknown> = { threadId: event.threadId };
  if (event.status === 'queue') {
    // Milliseconds, like the built-in RingCentral Engage provider (Lookup node docs divide by 1000).
    data.position = event.position ?? null;
    data.estimatedWaitTime = event.estimatedWaitTime ?? null;
  }
  if (event.status === 'active') {
    // Engage's sender_name of the agent (Source SDK messages.create), when known.
    data.agentName = event.agentName ?? null;
    data.sender_name = event.agentName ?? null;
  }
  const out: HandoverStatusInput = { status: event.status, eventType: EVENT_TYPES[event.status], data };
  if (event.status === 'error') {
    data.reason = event.error?.reason ?? 'handover_error';
    out.error = { reason: 'error', message: event.error?.message ?? 'The handover failed.' };
  }
  return out;
}

function normalisePhrase(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[\s.!?]+$/u, '')
    .replace(/\s+/gu, ' ');
}

/** A cancel request is the whole message equal to a cancel phrase (case-insensitive, trimmed) or the quick-reply payload. */
export function isCancelRequest(text: string | undefined, cancelPhrases: readonly string[]): boolean {
  if (typeof text !== 'string') return false;
  if (text.trim() === CANCEL_PAYLOAD) return true;
  const said = normalisePhrase(text);
  if (said === '') return false;
  return cancelPhrases.some((phrase) => normalisePhrase(phrase) === said && said !== '');
}

/** Fill `{position}` and `{minutes}` (also `{{position}}`/`{{minutes}}` if CognigyScript left them alone). */
export function fillQueueTemplate(template: string, position: number | null | undefined, estimatedWaitTimeMs: number | null | undefined): string {
  const values: Record<string, string> = {
    position: position === null || position === undefined ? '?' : String(position),
    minutes: estimatedWaitTimeMs === null || estimatedWaitTimeMs === undefined ? '?' : String(Math.ceil(estimatedWaitTimeMs / 60000)),
  };
  return template.replace(/\{\{?\s*(position|minutes)\s*\}?\}/gu, (_match, name: string) => values[name] ?? '?');
}

export type { UserAttachment } from '../../contract/userAttachment';

/** Attachments the channel put into `input.data.attachments` (objects with a url, or plain urls). */
export function attachmentsFrom(data: unknown): UserAttachment[] {
  if (data === null || typeof data !== 'object') return [];
  const raw = (data as { attachments?: unknown }).attachments;
  if (!Array.isArray(raw)) return [];
  const out: UserAttachment[] = [];
  for (const item of raw) {
    const url = typeof item === 'string' ? item : item && typeof item === 'object' ? (item as { url?: unknown }).url : undefined;
    if (typeof url !== 'string' || !/^https?:\/\//i.test(url) || url.length > 2048) continue;
    let valid = true;
    try {
      new URL(url);
    } catch {
      valid = false;
    }
    if (!valid) continue;
    const named = item && typeof item === 'object' ? ((item as { filename?: unknown; name?: unknown }).filename ?? (item as { name?: unknown }).name) : undefined;
    out.push(typeof named === 'string' && named.trim() !== '' ? { url, filename: named.trim().slice(0, 256) } : { url });
    if (out.length === 10) break;
  }
  return out;
}

/** Cognigy's default-channel quick-reply payload for a message with one "Cancel" button. */
export function cancelQuickReplyData(text: string, label: string): Record<string, unknown> {
  return {
    _cognigy: {
      _default: {
        _quickReplies: {
          type: 'quick_replies',
          text,
          quickReplies: [{ contentType: 'postback', payload: CANCEL_PAYLOAD, title: label }],
        },
      },
    },
  };
}

/** Read the stored state; anything that does not look like ours counts as "no handover". */
export function readHandoverState(context: Record<string, unknown> | undefined, key: string): HandoverState | null {
  const value = context?.[key];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const state = value as Partial<HandoverState>;
  if (typeof state.active !== 'boolean') return null;
  return {
    ...state,
    active: state.active,
    threadId: typeof state.threadId === 'string' ? state.threadId : null,
    status: state.status ?? 'idle',
    startedAt: state.startedAt ?? null,
    updatedAt: state.updatedAt ?? '',
    lastInputId: typeof state.lastInputId === 'string' ? state.lastInputId : null,
  };
}

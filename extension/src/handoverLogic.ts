import { injectedHandoverEventSchema, type HandoverStatus, type InjectedHandoverEvent } from '../../contract/relayApi';
import type { UserAttachment } from '../../contract/userAttachment';

/**
 * The Handover node's decisions, free of Cognigy and HTTP: which branch an injected event takes,
 * whether a user input is a cancel request, and what the queue message says.
 */

export const HANDOVER_NODE_TYPE = 'handoverToRce';

export const HANDOVER_CHILD_TYPES = {
  queueUpdate: 'onQueueUpdate',
  agentJoined: 'onAgentJoined',
  returnToBot: 'onReturnToBot',
  cancel: 'onCancel',
  error: 'onError',
  longWait: 'onLongWait',
  transfer: 'onTransfer',
  whileWaiting: 'onWhileWaiting',
} as const;
export type HandoverChildType = (typeof HANDOVER_CHILD_TYPES)[keyof typeof HANDOVER_CHILD_TYPES];

/** Quick-reply payload of the optional "Cancel" button. */
export const CANCEL_PAYLOAD = 'RCE_HANDOVER_CANCEL';
/**
 * Quick-reply payload a "While Waiting" branch offers ("I'm all set") when the bot solved the
 * problem: it withdraws the request like Cancel, and On Cancel sees reason "resolved_by_bot".
 */
export const ALL_SET_PAYLOAD = 'RCE_HANDOVER_ALL_SET';
export const RESOLVED_BY_BOT_REASON = 'resolved_by_bot';
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
  /** Engage's id of that agent, when the relay knows it. */
  agentId?: string | null;
  error?: { code: string; message: string } | null;
  /** Set by "Close RCE Handover": how the Flow's close went. */
  closeOutcome?: 'closed' | 'cancelled' | 'not_running';
  /** `input.inputId` of the last input the node handled (idempotency per input). */
  lastInputId?: string | null;
  /** The queue message said last: the next one is said only when it differs. */
  lastQueueMessage?: string | null;
  /** "On Long Wait" was taken in this handover (it is taken once). */
  longWaitTaken?: boolean;
  /** The long-wait branch asked the user something and the user has not written since. */
  longWaitOfferOpen?: boolean;
}

export interface EventRoute {
  child: HandoverChildType;
  /** Whether the handover is still running after this event (the node stays the entry point). */
  staysActive: boolean;
  status: HandoverStatus;
  /**
   * While active, where the next input starts: at the node (it waits there, as after most
   * events), or at the Flow start, so that an If before the Flow-start guard can catch the
   * user's answer to what the branch asked ("On Long Wait" offering a callback).
   */
  nextInputAt?: 'node' | 'flowStart';
}

type EventStatus = InjectedHandoverEvent['status'];
type EventReason = NonNullable<InjectedHandoverEvent['reason']>;

/** The routing table for events the relay injects as `input.data.handover`, by status. */
export const EVENT_ROUTES: Record<EventStatus, EventRoute> = {
  queue: { child: HANDOVER_CHILD_TYPES.queueUpdate, staysActive: true, status: 'queued' },
  active: { child: HANDOVER_CHILD_TYPES.agentJoined, staysActive: true, status: 'active' },
  completed: { child: HANDOVER_CHILD_TYPES.returnToBot, staysActive: false, status: 'completed' },
  cancelled: { child: HANDOVER_CHILD_TYPES.cancel, staysActive: false, status: 'cancelled' },
  error: { child: HANDOVER_CHILD_TYPES.error, staysActive: false, status: 'error' },
};

/**
 * Events that carry a `reason` route by it. Typed against the contract's reason enum: a new reason
 * does not compile until it has a route here.
 */
export const REASON_ROUTES: Record<EventReason, EventRoute> = {
  // The agent released the chat: the user waits again.
  agent_released: EVENT_ROUTES.queue,
  // Another agent took the chat over (task.transferred, intervention.user_updated).
  transferred: { child: HANDOVER_CHILD_TYPES.transfer, staysActive: true, status: 'active' },
  // The relay closed the handover after the user was silent too long.
  inactivity: EVENT_ROUTES.completed,
};

/** Taken instead of "On Queue Update", once per handover, when the wait passes the node's thresholds. */
export const LONG_WAIT_ROUTE: EventRoute = {
  child: HANDOVER_CHILD_TYPES.longWait,
  staysActive: true,
  status: 'queued',
  nextInputAt: 'flowStart',
};

/** What the node's fields add to routing. */
export interface RouteOptions {
  /** "On Long Wait" thresholds; null = never. */
  longWait?: LongWaitThresholds | null;
  /** Take "On Transfer" on a reassignment; off: "On Agent Joined" (with data.reason "transferred"). */
  transferBranch?: boolean;
}

/** The one place that decides an injected event's branch. */
export function routeForEvent(
  event: Pick<InjectedHandoverEvent, 'status' | 'reason' | 'position' | 'estimatedWaitTime'>,
  state: Pick<HandoverState, 'longWaitTaken'> | null = null,
  options: RouteOptions = {},
): EventRoute {
  if (event.reason === 'transferred' && !options.transferBranch) return EVENT_ROUTES.active;
  if (event.reason) return REASON_ROUTES[event.reason];
  const route = EVENT_ROUTES[event.status];
  const { longWait } = options;
  if (route === EVENT_ROUTES.queue && longWait && !state?.longWaitTaken && isLongWait(event.position, event.estimatedWaitTime, longWait))
    return LONG_WAIT_ROUTE;
  return route;
}

/**
 * Where the node goes when the relay answers a user message with a status (its event never
 * reached us): null while the handover still runs, a leaving route once it is over.
 */
export const RELAY_STATUS_ROUTES: Record<HandoverStatus, EventRoute | null> = {
  queued: null,
  active: null,
  idle: { child: HANDOVER_CHILD_TYPES.returnToBot, staysActive: false, status: 'idle' },
  completed: EVENT_ROUTES.completed,
  cancelled: EVENT_ROUTES.cancelled,
  error: EVENT_ROUTES.error,
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
export function decideEvent(event: InjectedHandoverEvent, state: HandoverState | null, options: RouteOptions = {}): EventDecision {
  if (!state?.threadId) return { action: 'ignore', reason: 'no_handover' };
  if (state.threadId !== event.threadId) return { action: 'ignore', reason: 'other_thread' };
  // Events after the end (a late queue update, the echo of our own cancel) change nothing.
  if (!state.active) return { action: 'ignore', reason: 'already_ended' };
  return { action: 'route', route: routeForEvent(event, state, options), state };
}

/**
 * Where the next input starts after a routed event that keeps the handover running. At the node
 * (it waits there) unless the long-wait branch asked the user something they have not answered
 * yet: then at the Flow start, where an If before the guard can catch the answer (the guard
 * brings anything else back to the node). `state` is the state after the event.
 */
export function nextInputStart(route: EventRoute, state: Pick<HandoverState, 'longWaitOfferOpen'>): 'node' | 'flowStart' {
  return route.nextInputAt === 'flowStart' || state.longWaitOfferOpen ? 'flowStart' : 'node';
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
    next.agentId = event.agentId ?? null;
    next.position = null;
    next.estimatedWaitTime = null;
    next.lastQueueMessage = null;
  }
  if (event.reason === 'agent_released') {
    // Waiting again: the next queue report is news even if it repeats the last one.
    next.agentName = null;
    next.agentId = null;
    next.lastQueueMessage = null;
  }
  if (route.child === HANDOVER_CHILD_TYPES.longWait) {
    next.longWaitTaken = true;
    next.longWaitOfferOpen = true;
  }
  if (event.status === 'active') next.longWaitOfferOpen = false;
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
    if (event.agentId) data.agentId = event.agentId;
  }
  // Why the event happened ("agent_released", …), for Flows that branch on it.
  if (event.reason) data.reason = event.reason;
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

/**
 * Whether cancel phrases apply now: while the user waits always; during the live chat only with
 * the node's option on (otherwise "stop" is a message for the agent like any other).
 */
export function cancelPhrasesApply(state: Pick<HandoverState, 'status'>, duringLiveChat: boolean): boolean {
  return state.status !== 'active' || duringLiveChat;
}

/**
 * Whether this input ends the handover as the user's cancel: a click on the Cancel quick reply
 * always (an explicit choice, and its payload must never reach the agent as text); a typed
 * cancel phrase when cancel phrases apply now.
 */
export function wantsToCancel(
  text: string | undefined,
  state: Pick<HandoverState, 'status'>,
  cancelPhrases: readonly string[],
  duringLiveChat: boolean,
): boolean {
  if (typeof text === 'string' && (text.trim() === CANCEL_PAYLOAD || text.trim() === ALL_SET_PAYLOAD)) return true;
  return cancelPhrasesApply(state, duringLiveChat) && isCancelRequest(text, cancelPhrases);
}

/** A cancel request is the whole message equal to a cancel phrase (case-insensitive, trimmed) or the quick-reply payload. */
export function isCancelRequest(text: string | undefined, cancelPhrases: readonly string[]): boolean {
  if (typeof text !== 'string') return false;
  if (text.trim() === CANCEL_PAYLOAD) return true;
  const said = normalisePhrase(text);
  if (said === '') return false;
  return cancelPhrases.some((phrase) => normalisePhrase(phrase) === said && said !== '');
}

/** An estimated wait as the node says it. */
export interface SpokenWait {
  /** Whole minutes, rounded like `words` (at least 1). */
  minutes: number;
  /** "less than a minute", "about 5 minutes", "about 1 hour 15 minutes". */
  words: string;
}

function plural(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/**
 * Round an estimated wait (ms) the way people say it, coarser as it grows, so Engage's
 * second-by-second estimates do not make a new message: under a minute; to the minute up to
 * 10 minutes; to 5 minutes up to an hour; to a quarter hour beyond.
 */
export function spokenWait(estimatedWaitTimeMs: number | null | undefined): SpokenWait | null {
  if (estimatedWaitTimeMs === null || estimatedWaitTimeMs === undefined || !Number.isFinite(estimatedWaitTimeMs) || estimatedWaitTimeMs < 0)
    return null;
  const exact = estimatedWaitTimeMs / 60000;
  if (exact < 1) return { minutes: 1, words: 'less than a minute' };
  const step = exact < 9.5 ? 1 : exact < 57.5 ? 5 : 15;
  const minutes = Math.max(1, Math.round(exact / step) * step);
  if (minutes < 60) return { minutes, words: `about ${plural(minutes, 'minute')}` };
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return { minutes, words: `about ${plural(hours, 'hour')}${rest ? ` ${plural(rest, 'minute')}` : ''}` };
}

const QUEUE_PLACEHOLDER = /\{\{?\s*(position|minutes|wait)\s*\}?\}/gu;

/**
 * Fill `{position}`, `{wait}` ("about 5 minutes") and `{minutes}` (the rounded number); also
 * `{{…}}` if CognigyScript left them alone. A sentence whose value is unknown is left out (Engage
 * may report a position without a wait, or the reverse); "" when nothing is left to say.
 */
export function fillQueueTemplate(
  template: string,
  position: number | null | undefined,
  estimatedWaitTimeMs: number | null | undefined,
): string {
  const wait = spokenWait(estimatedWaitTimeMs);
  const values: Record<string, string | null> = {
    position: position === null || position === undefined ? null : String(position),
    minutes: wait ? String(wait.minutes) : null,
    wait: wait ? wait.words : null,
  };
  const sentences = template.match(/[^.!?]+(?:[.!?]+|$)\s*/gu) ?? [template];
  return sentences
    .filter((sentence) => [...sentence.matchAll(QUEUE_PLACEHOLDER)].every((match) => values[match[1] ?? ''] !== null))
    .map((sentence) => sentence.replace(QUEUE_PLACEHOLDER, (_match, name: string) => values[name] ?? ''))
    .join('')
    .trim();
}

export interface QueueMessages {
  /** The queue update template (see fillQueueTemplate); "" = say nothing. */
  template: string;
  /** Said when an agent released the chat and the user waits again; "" = say nothing. */
  agentReleased: string;
}

/**
 * What the node says on a queue event, given the state before it: the queue message only when
 * it differs from the one said last (position or rounded wait changed); the release message when
 * an agent released the chat. "" = say nothing.
 */
export function queueMessageFor(event: InjectedHandoverEvent, before: HandoverState, messages: QueueMessages): string {
  if (event.status !== 'queue') return '';
  if (event.reason === 'agent_released') return messages.agentReleased.trim();
  if (messages.template.trim() === '') return '';
  const text = fillQueueTemplate(messages.template, event.position, event.estimatedWaitTime);
  return text === before.lastQueueMessage ? '' : text;
}

/** The node's "On Long Wait" thresholds; 0 turns a threshold off. */
export interface LongWaitThresholds {
  minutes: number;
  position: number;
}

/** Whether a queue report is a long wait: the estimate over N minutes, or the position over P. */
export function isLongWait(
  position: number | null | undefined,
  estimatedWaitTimeMs: number | null | undefined,
  limits: LongWaitThresholds,
): boolean {
  const waitTooLong = limits.minutes > 0 && typeof estimatedWaitTimeMs === 'number' && estimatedWaitTimeMs > limits.minutes * 60000;
  const tooFarBack = limits.position > 0 && typeof position === 'number' && position > limits.position;
  return waitTooLong || tooFarBack;
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
    const named =
      item && typeof item === 'object'
        ? ((item as { filename?: unknown; name?: unknown }).filename ?? (item as { name?: unknown }).name)
        : undefined;
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

/** The user clicked "I'm all set" (the bot helped while they waited): a cancel with its own reason. */
export function isAllSet(text: string | undefined): boolean {
  return typeof text === 'string' && text.trim() === ALL_SET_PAYLOAD;
}

/**
 * Whether a user message the agent got also runs the "While Waiting" branch: the option is on and
 * no agent has joined, neither by the events the node saw nor by the relay's answer just now.
 */
export function runsWhileWaiting(helpWhileWaiting: boolean, state: Pick<HandoverState, 'status'>, relayStatus: HandoverStatus): boolean {
  return helpWhileWaiting && state.status !== 'active' && relayStatus === 'queued';
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

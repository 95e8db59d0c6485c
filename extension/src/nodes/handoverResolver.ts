import type { INodeFunctionBaseParams } from '@cognigy/extension-tools';
import type { InjectedHandoverEvent, RelayRequestInput } from '../../../contract/relayApi';
import { parseConnection } from '../connection';
import {
  HANDOVER_CHILD_TYPES,
  HANDOVER_NODE_TYPE,
  RELAY_STATUS_ROUTES,
  applyEvent,
  cancelQuickReplyData,
  classifyInput,
  decideEvent,
  queueMessageFor,
  handoverStatusInput,
  isAllSet,
  nextInputStart,
  RESOLVED_BY_BOT_REASON,
  runsWhileWaiting,
  readHandoverState,
  wantsToCancel,
  type HandoverChildType,
  type HandoverState,
} from '../handoverLogic';
import { LOG_PREFIX, nowIso, routeToChild, toNodeError, type NodeApi, type NodeErrorInfo } from '../nodeSupport';
import { contactProfileFrom, contextDataFrom, parseProfileMapping, transcriptFrom } from '../profile';
import { cancelHandover, sendUserMessage, sessionFromInput, startHandover, type RelayCallContext } from '../relayClient';
import { userMessageRequest } from '../userMessageParts';
import type { HandoverNodeConfig } from './handoverToRce';

/**
 * What the Handover to RCE node does on one input, as named steps: `resolveHandover` picks one of
 * `onRelayEvent` (an event the relay injected), `whileActive` (the user talks to the agent) and
 * `start` (no handover yet). Which branch an event or a relay status leads to is decided in
 * `handoverLogic` alone; these functions only carry it out.
 */

const MAX_TEXT = 20000;
type Cognigy = INodeFunctionBaseParams['cognigy'];

/** One execution of the node: its inputs, the stored state and the moves it can make. */
export interface HandoverRun {
  api: NodeApi;
  config: HandoverNodeConfig;
  cognigy: Cognigy;
  input: Cognigy['input'];
  state: HandoverState | null;
  /** Every saved state names the input it handled, so a second run on that input changes nothing. */
  save(next: HandoverState): void;
  /** Wait here for input (like Cognigy's Question node): the next input starts at this node. */
  stay(): void;
  /**
   * A branch while the handover goes on (queue update, agent joined, error while active).
   * `setNextNode(self)` first: if Cognigy stacks next nodes, the node runs again on this input
   * after the branch (and, having handled it, just waits); if the last call wins, the branch
   * runs and the next input comes back through the Flow-start guard, or through a
   * "Go To → this node (wait for input)" at the end of the branch.
   */
  routeWhileActive(child: HandoverChildType): void;
  leaveAndRoute(child: HandoverChildType): void;
  fail(what: string, error: NodeErrorInfo): void;
  sayWithCancel(text: string): void;
}

function handoverRun(params: INodeFunctionBaseParams, config: HandoverNodeConfig): HandoverRun {
  const { cognigy, childConfigs, nodeId } = params;
  const api: NodeApi = cognigy.api;
  const input = cognigy.input;
  const inputId = typeof input.inputId === 'string' ? input.inputId : null;
  return {
    api,
    config,
    cognigy,
    input,
    state: readHandoverState(cognigy.context, config.contextKey),
    save: (next) => api.addToContext?.(config.contextKey, { ...next, lastInputId: inputId }, 'simple'),
    stay: () => {
      api.setNextNode?.(nodeId);
      api.stopExecution?.();
    },
    routeWhileActive: (child) => {
      api.setNextNode?.(nodeId);
      if (!routeToChild(api, childConfigs, child)) api.stopExecution?.();
    },
    leaveAndRoute: (child) => {
      if (!routeToChild(api, childConfigs, child)) api.stopExecution?.();
    },
    fail: (what, error) => {
      api.log?.('error', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: ${what}: ${error.code}: ${error.message}`);
    },
    sayWithCancel: (text) => {
      const label = config.cancelButtonLabel.trim();
      if (label) api.say?.(text, cancelQuickReplyData(text, label));
      else api.say?.(text);
    },
  };
}

/** Stop without a branch: wait here while a handover runs, otherwise end the Flow. */
function idle(run: HandoverRun): void {
  if (run.state?.active) run.stay();
  else run.api.stopExecution?.();
}

/** One execution of the node. Never throws: every failure is logged, stored and routed to "On Error". */
export async function resolveHandover(params: INodeFunctionBaseParams, config: HandoverNodeConfig): Promise<void> {
  const run = handoverRun(params, config);
  try {
    const { state, input } = run;
    // Cognigy may run the node twice on one input (a branch ending in "Go To → this node (continue)",
    // the guard after a branch): the input was handled, so neither send nor say anything again.
    if (state && typeof input.inputId === 'string' && state.lastInputId === input.inputId) {
      idle(run);
      return;
    }
    const classified = classifyInput(input);
    if (classified.kind === 'malformedEvent') {
      run.api.log?.('warn', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: ignored a malformed handover event.`);
      idle(run);
      return;
    }
    if (classified.kind === 'event') onRelayEvent(run, classified.event);
    else if (state?.active) await whileActive(run, state);
    else await start(run);
  } catch (error) {
    // Last line of defence: a node must never throw into the Flow.
    run.fail('unexpected failure', toNodeError(error));
    run.leaveAndRoute(HANDOVER_CHILD_TYPES.error);
  }
}

/** An event injected by our relay: update the state and take its branch. No relay call. */
export function onRelayEvent(run: HandoverRun, event: InjectedHandoverEvent): void {
  const { api, config } = run;
  const decision = decideEvent(event, run.state, {
    longWait: { minutes: config.longWaitMinutes, position: config.longWaitPosition },
    transferBranch: config.transferBranch,
  });
  if (decision.action === 'ignore') {
    api.log?.('info', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: ignored a "${event.status}" event (${decision.reason}).`);
    idle(run);
    return;
  }
  const message = queueMessageFor(event, decision.state, {
    template: config.queueMessageTemplate,
    agentReleased: config.agentReleasedMessage,
  });
  const next = applyEvent(decision.state, event, decision.route, nowIso());
  if (message) next.lastQueueMessage = message;
  run.save(next);
  // Where Cognigy's built-in handovers put their events (Lookup node "Handover Status").
  api.addToInput?.('handover', handoverStatusInput(event));
  if (message) run.sayWithCancel(message);
  if (event.status === 'error' && next.error) run.fail('Engage reported an error', next.error);
  if (decision.route.staysActive && nextInputStart(decision.route, next) === 'node') run.routeWhileActive(decision.route.child);
  else run.leaveAndRoute(decision.route.child);
}

/** A handover is running: the input is the user talking to the agent (or asking to cancel). */
export async function whileActive(run: HandoverRun, state: HandoverState): Promise<void> {
  const { input } = run;
  let relay: RelayCallContext;
  try {
    relay = { connection: parseConnection(run.config.connection), session: sessionFromInput(input), inputId: input.inputId };
  } catch (error) {
    const info = toNodeError(error);
    run.fail('cannot reach the relay', info);
    run.save({ ...state, error: { code: info.code, message: info.message }, updatedAt: nowIso() });
    run.routeWhileActive(HANDOVER_CHILD_TYPES.error);
    return;
  }

  const text = typeof input.text === 'string' ? input.text : '';
  if (wantsToCancel(text, state, run.config.cancelPhrases, run.config.cancelDuringLiveChat)) {
    await cancel(run, state, relay);
    return;
  }

  // Files Engage would refuse are told to the user here; a clicked option carries its structured reply.
  const request = userMessageRequest(input, run.api);
  if ((request.text ?? '').trim() === '' && (request.attachments ?? []).length === 0) {
    run.stay();
    return;
  }
  try {
    const result = await sendUserMessage(relay, request);
    const now = nowIso();
    const ended = result.forwarded ? null : RELAY_STATUS_ROUTES[result.status];
    if (ended) {
      // The relay says the handover is over (its event never reached us): leave it.
      run.save({ ...state, active: false, status: ended.status, endedAt: now, updatedAt: now });
      run.leaveAndRoute(ended.child);
      return;
    }
    // The user wrote: a long-wait offer is answered (by anything but the Flow's own reply).
    run.save({ ...state, status: result.status, updatedAt: now, longWaitOfferOpen: false });
    if (runsWhileWaiting(run.config.helpWhileWaiting, state, result.status)) {
      // The agent has the message; the bot may answer it too. The node stays the next node, so
      // the following input comes back here (stack: right after the branch, as a handled input).
      run.api.addToInput?.('handover', {
        status: 'queue',
        eventType: 'userInputWhileWaiting',
        data: { threadId: state.threadId, forwarded: true },
      });
      run.routeWhileActive(HANDOVER_CHILD_TYPES.whileWaiting);
      return;
    }
    run.stay();
  } catch (error) {
    const info = toNodeError(error);
    run.fail('could not forward the message to the agent', info);
    run.save({ ...state, error: { code: info.code, message: info.message }, updatedAt: nowIso() });
    run.routeWhileActive(HANDOVER_CHILD_TYPES.error);
  }
}

/** The user asked to leave: cancel at the relay and take "On Cancel". */
async function cancel(run: HandoverRun, state: HandoverState, relay: RelayCallContext): Promise<void> {
  const allSet = isAllSet(typeof run.input.text === 'string' ? run.input.text : undefined);
  try {
    const result = await cancelHandover(relay, { reason: allSet ? RESOLVED_BY_BOT_REASON : 'user_cancelled' });
    const now = nowIso();
    run.save({ ...state, active: false, status: result.status, endedAt: now, updatedAt: now, error: null });
    const data = { threadId: state.threadId, ...(allSet ? { reason: RESOLVED_BY_BOT_REASON } : {}) };
    run.api.addToInput?.('handover', { status: 'cancelled', eventType: 'userCancelled', data });
    run.leaveAndRoute(HANDOVER_CHILD_TYPES.cancel);
  } catch (error) {
    // End locally so the user is never stuck, and report why.
    const info = toNodeError(error);
    run.fail('could not cancel the handover', info);
    const now = nowIso();
    run.save({ ...state, active: false, status: 'error', endedAt: now, updatedAt: now, error: { code: info.code, message: info.message } });
    run.leaveAndRoute(HANDOVER_CHILD_TYPES.error);
  }
}

/** The node's options for the relay; empty notices are left out, so the relay's defaults apply. */
export function handoverOptions(config: HandoverNodeConfig): NonNullable<RelayRequestInput<'startHandover'>['options']> {
  const notices = {
    inactivityNotice: config.inactivityNotice,
    userLeftNotice: config.userLeftNotice,
    userBackNotice: config.userBackNotice,
  };
  return {
    forwardOnlyHandoverConversations: config.forwardOnlyHandoverConversations,
    getQueueUpdates: config.getQueueUpdates,
    inactivityTimeoutMinutes: config.inactivityTimeoutMinutes,
    inactivityCloses: config.inactivityCloses,
    ...Object.fromEntries(
      Object.entries(notices).flatMap(([key, text]) => (text.trim() === '' ? [] : [[key, text.trim().slice(0, 1000)]])),
    ),
  };
}

/** No handover yet: start one. */
export async function start(run: HandoverRun): Promise<void> {
  const { api, config, cognigy, state } = run;
  try {
    const relay: RelayCallContext = {
      connection: parseConnection(config.connection),
      session: sessionFromInput(cognigy.input),
      inputId: cognigy.input.inputId,
    };
    const profileMapping = parseProfileMapping(config.profileMapping);
    const { profile, withheld } = config.useCognigyProfile ? contactProfileFrom(cognigy.profile) : { profile: {}, withheld: false };
    if (withheld)
      api.log?.('info', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: the contact opted out of data collection; the profile is not sent.`);
    const { transcript, dropped: droppedLines } = transcriptFrom(config.transcript);
    if (droppedLines > 0)
      api.log?.(
        'warn',
        `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: skipped ${droppedLines} transcript line(s) that are neither {role: "user"|"bot", text} nor Get Transcript entries.`,
      );
    const { contextData, dropped: droppedKeys } = contextDataFrom(config.contextData);
    if (droppedKeys > 0)
      api.log?.(
        'warn',
        `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: skipped ${droppedKeys} context data entr(y/ies) that are not text or lists of text.`,
      );

    const result = await startHandover(relay, {
      profile,
      profileMapping,
      transcript,
      firstMessage: config.firstMessage.slice(0, MAX_TEXT),
      contextData,
      options: handoverOptions(config),
      ...(config.additionalCategoryIds.length > 0 ? { additionalCategoryIds: config.additionalCategoryIds } : {}),
    });
    const now = nowIso();
    run.save({
      active: true,
      threadId: result.threadId,
      status: result.status,
      startedAt: now,
      updatedAt: now,
      endedAt: null,
      position: null,
      estimatedWaitTime: null,
      agentName: null,
      error: null,
    });
    if (!result.started) {
      api.log?.('info', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: a handover was already running for this conversation; continuing it.`);
    } else if (config.acceptedMessage.trim() !== '') {
      run.sayWithCancel(config.acceptedMessage);
    }
    run.stay();
  } catch (error) {
    const info = toNodeError(error);
    run.fail('could not start the handover', info);
    const now = nowIso();
    run.save({
      active: false,
      threadId: state?.threadId ?? null,
      status: 'error',
      startedAt: state?.startedAt ?? null,
      updatedAt: now,
      error: { code: info.code, message: info.message },
    });
    run.leaveAndRoute(HANDOVER_CHILD_TYPES.error);
  }
}

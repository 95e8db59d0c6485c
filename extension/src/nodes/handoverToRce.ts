import { createNodeDescriptor, type INodeFunctionBaseParams } from '@cognigy/extension-tools';
import { z } from 'zod';
import { parseConnection } from '../connection';
import {
  HANDOVER_CHILD_TYPES,
  applyEvent,
  attachmentsFrom,
  cancelQuickReplyData,
  classifyInput,
  decideEvent,
  fillQueueTemplate,
  handoverStatusInput,
  isCancelRequest,
  readHandoverState,
  type HandoverChildType,
  type HandoverState,
} from '../handoverLogic';
import {
  BRAND_COLOR,
  LOG_PREFIX,
  childNodeDescriptor,
  configRequiredText,
  configText,
  configTextList,
  configToggle,
  connectionField,
  nowIso,
  readConfig,
  routeToChild,
  storageKey,
  toNodeError,
  type NodeApi,
  type NodeErrorInfo,
} from '../nodeSupport';
import { contactProfileFrom, contextDataFrom, parseProfileMapping, transcriptFrom } from '../profile';
import { cancelHandover, sendUserMessage, sessionFromInput, startHandover, type RelayCallContext } from '../relayClient';
import { userMessageRequest } from '../userMessageParts';

export const HANDOVER_NODE_TYPE = 'handoverToRce';
export const DEFAULT_HANDOVER_CONTEXT_KEY = 'rceHandover';
export const DEFAULT_FIRST_MESSAGE = 'The customer asked for a human agent.';
export const DEFAULT_ACCEPTED_MESSAGE = "Please wait a moment, I'm connecting you with an agent.";
/** Single braces: Cognigy resolves {{…}} itself before the node runs, so the node's own placeholders must differ. */
export const DEFAULT_QUEUE_MESSAGE = 'You are number {position} in the queue. Estimated wait: {minutes} min.';
export const DEFAULT_CANCEL_PHRASES = ['cancel', 'stop'];
export const DEFAULT_CANCEL_BUTTON_LABEL = 'Cancel';
const MAX_TEXT = 20000;

const handoverConfigSchema = z.object({
  connection: z.unknown(),
  firstMessage: configRequiredText(DEFAULT_FIRST_MESSAGE),
  transcript: z.unknown(),
  contextData: z.unknown(),
  useCognigyProfile: configToggle(true),
  profileMapping: z.unknown(),
  forwardOnlyHandoverConversations: configToggle(true),
  getQueueUpdates: configToggle(true),
  acceptedMessage: configText(DEFAULT_ACCEPTED_MESSAGE),
  queueMessageTemplate: configText(DEFAULT_QUEUE_MESSAGE),
  cancelPhrases: configTextList(DEFAULT_CANCEL_PHRASES),
  cancelButtonLabel: configText(DEFAULT_CANCEL_BUTTON_LABEL),
  contextKey: z.unknown().transform((v) => storageKey(v, DEFAULT_HANDOVER_CONTEXT_KEY)),
  additionalCategoryIds: configTextList([]).transform((ids) => [...new Set(ids.map((id) => id.trim()).filter(Boolean))].slice(0, 20)),
});
export type HandoverNodeConfig = z.output<typeof handoverConfigSchema>;

export const handoverToRceNode = createNodeDescriptor({
  type: HANDOVER_NODE_TYPE,
  defaultLabel: 'Handover to RCE',
  summary:
    'Hands the conversation to a RingCentral Engage agent and relays it until the agent closes it. ' +
    'Required placement: turn on "Set Entrypoint" in this node\'s settings, and make the first node of the Flow an If ' +
    '"{{context.rceHandover.active}}" whose Then branch is a Go To to this node (Execution Mode: continue). ' +
    'Branches may end in a Say, or in a Go To to this node with "wait for input".',
  appearance: { color: BRAND_COLOR, textColor: 'white' },
  behavior: { entrypoint: true },
  tags: ['service'],
  fields: [
    connectionField,
    {
      key: 'firstMessage',
      type: 'cognigyText',
      label: 'First message to the agent',
      description: 'Opens the Engage thread; the agent sees it first. CognigyScript allowed.',
      defaultValue: DEFAULT_FIRST_MESSAGE,
      params: { required: true },
    },
    {
      key: 'transcript',
      type: 'json',
      label: 'Transcript',
      description:
        'Optional conversation so far: the result of Cognigy\'s Get Transcript node as it comes (e.g. "{{input.transcript}}"; ' +
        'assistant lines are sent as the bot, tool and other non-text entries are skipped), or an array of {"role": "user" | "bot", "text": "..."}. ' +
        'Lines that do not fit are skipped; at most the last 500 are sent.',
      defaultValue: [],
    },
    {
      key: 'contextData',
      type: 'json',
      label: 'Context data for Engage',
      description: 'Key/value pairs attached to the Engage thread (e.g. for routing rules). Values: text or lists of text.',
      defaultValue: {},
    },
    {
      key: 'useCognigyProfile',
      type: 'toggle',
      label: 'Send the Cognigy contact profile',
      description:
        'Sends the contact profile so agents know who they talk to. Known keys become Engage user fields, the rest goes to context_data. ' +
        'Not sent when the contact opted out of data collection.',
      defaultValue: true,
    },
    {
      key: 'profileMapping',
      type: 'json',
      label: 'Extra profile mappings',
      description:
        'Cognigy profile key → Engage user key, e.g. {"mobile": "mobile_phone", "customerNo": "context_data.customer_no"}. ' +
        'Targets: firstname, lastname, email, home_phone, mobile_phone, avatar_url, gender, screenname or context_data.<key>.',
      defaultValue: {},
    },
    {
      key: 'forwardOnlyHandoverConversations',
      type: 'toggle',
      label: 'Forward Only Handover Conversations',
      description:
        'On: Engage sees the conversation only from the handover on. Off: the conversation before the handover is mirrored to Engage under the Bot category ' +
        'by "Mirror to RCE" nodes in the Flow (add them at the Flow start and after bot outputs).',
      defaultValue: true,
    },
    {
      key: 'getQueueUpdates',
      type: 'toggle',
      label: 'Get Queue Updates',
      description: 'Receive Engage queue updates (position, estimated wait) as events; the node then takes the "On Queue Update" branch.',
      defaultValue: true,
    },
    {
      key: 'acceptedMessage',
      type: 'cognigyText',
      label: 'Message to the user when the handover starts',
      description: 'Said once when the handover was accepted. Leave empty to say nothing (use the Flow instead).',
      defaultValue: DEFAULT_ACCEPTED_MESSAGE,
    },
    {
      key: 'queueMessageTemplate',
      type: 'cognigyText',
      label: 'Queue update message',
      description: 'Said on each queue update. {position} and {minutes} are filled in by the node. Leave empty to say nothing.',
      defaultValue: DEFAULT_QUEUE_MESSAGE,
      condition: { key: 'getQueueUpdates', value: true },
    },
    {
      key: 'cancelPhrases',
      type: 'textArray',
      label: 'Cancel phrases',
      description: 'A user message equal to one of these (case-insensitive) cancels the handover and takes the "On Cancel" branch.',
      defaultValue: DEFAULT_CANCEL_PHRASES,
    },
    {
      key: 'cancelButtonLabel',
      type: 'cognigyText',
      label: 'Cancel button label',
      description: 'Adds a quick reply with this label to the node\'s messages; clicking it cancels. Leave empty for no button.',
      defaultValue: DEFAULT_CANCEL_BUTTON_LABEL,
    },
    {
      key: 'contextKey',
      type: 'cognigyText',
      label: 'Context key for the handover state',
      description:
        'The state lives in context.<key> ({active, threadId, status, position, estimatedWaitTime, agentName, lastInputId, …}). ' +
        'The Flow-start guard "If {{context.<key>.active}} → Go To this node" must use the same key.',
      defaultValue: DEFAULT_HANDOVER_CONTEXT_KEY,
      params: { required: true },
    },
    {
      key: 'additionalCategoryIds',
      type: 'textArray',
      label: 'Additional Category IDs',
      description:
        'Engage category ids added to the conversation together with the Agent category (as in Cognigy\'s built-in RingCentral Engage handover). ' +
        'Categories Engage rules set stay on the conversation; these stay after the return to the bot.',
      defaultValue: [],
    },
  ],
  sections: [
    { key: 'connectionSettings', label: 'Connection', defaultCollapsed: false, fields: ['connection'] },
    { key: 'handover', label: 'Handover', defaultCollapsed: false, fields: ['firstMessage', 'transcript', 'contextData'] },
    { key: 'contactProfile', label: 'Contact profile', defaultCollapsed: true, fields: ['useCognigyProfile', 'profileMapping'] },
    {
      key: 'options',
      label: 'Options',
      defaultCollapsed: true,
      fields: [
        'forwardOnlyHandoverConversations',
        'getQueueUpdates',
        'acceptedMessage',
        'queueMessageTemplate',
        'cancelPhrases',
        'cancelButtonLabel',
      ],
    },
    { key: 'storage', label: 'Storage', defaultCollapsed: true, fields: ['contextKey'] },
    { key: 'engageSettings', label: 'RingCentral Engage Settings', defaultCollapsed: true, fields: ['additionalCategoryIds'] },
  ],
  form: [
    { type: 'section', key: 'connectionSettings' },
    { type: 'section', key: 'handover' },
    { type: 'section', key: 'contactProfile' },
    { type: 'section', key: 'options' },
    { type: 'section', key: 'storage' },
    { type: 'section', key: 'engageSettings' },
  ],
  dependencies: { children: Object.values(HANDOVER_CHILD_TYPES) },
  function: runHandoverToRce,
});

export const onQueueUpdateNode = childNodeDescriptor({ type: HANDOVER_CHILD_TYPES.queueUpdate, parentType: HANDOVER_NODE_TYPE, label: 'On Queue Update', color: '#3D9FFF' });
export const onAgentJoinedNode = childNodeDescriptor({ type: HANDOVER_CHILD_TYPES.agentJoined, parentType: HANDOVER_NODE_TYPE, label: 'On Agent Joined', color: '#2E9E5B' });
export const onReturnToBotNode = childNodeDescriptor({ type: HANDOVER_CHILD_TYPES.returnToBot, parentType: HANDOVER_NODE_TYPE, label: 'On Return to Bot', color: '#2E9E5B' });
export const onCancelNode = childNodeDescriptor({ type: HANDOVER_CHILD_TYPES.cancel, parentType: HANDOVER_NODE_TYPE, label: 'On Cancel', color: '#8A8F98' });
export const onErrorNode = childNodeDescriptor({ type: HANDOVER_CHILD_TYPES.error, parentType: HANDOVER_NODE_TYPE, label: 'On Error', color: '#D64545' });

export const handoverToRceNodes = [handoverToRceNode, onQueueUpdateNode, onAgentJoinedNode, onReturnToBotNode, onCancelNode, onErrorNode];

/** One execution of the node. Never throws: every failure is logged, stored and routed to "On Error". */
async function runHandoverToRce(params: INodeFunctionBaseParams): Promise<void> {
  const { cognigy, childConfigs, nodeId } = params;
  const api: NodeApi = cognigy.api;
  const config = readConfig(handoverConfigSchema, params.config);
  const input = cognigy.input;
  const state = readHandoverState(cognigy.context, config.contextKey);

  const inputId = typeof input.inputId === 'string' ? input.inputId : null;
  /** Every saved state names the input it handled, so a second run on that input changes nothing. */
  const save = (next: HandoverState): void => api.addToContext?.(config.contextKey, { ...next, lastInputId: inputId }, 'simple');
  /** Wait here for input (like Cognigy's Question node): the next input starts at this node. */
  const stay = (): void => {
    api.setNextNode?.(nodeId);
    api.stopExecution?.();
  };
  /**
   * A branch while the handover goes on (queue update, agent joined, error while active).
   * `setNextNode(self)` first: if Cognigy stacks next nodes, the node runs again on this input
   * after the branch (and, having handled it, just waits); if the last call wins, the branch
   * runs and the next input comes back through the Flow-start guard, or through a
   * "Go To → this node (wait for input)" at the end of the branch.
   */
  const routeWhileActive = (child: HandoverChildType): void => {
    api.setNextNode?.(nodeId);
    if (!routeToChild(api, childConfigs, child)) api.stopExecution?.();
  };
  const leaveAndRoute = (child: HandoverChildType): void => {
    if (!routeToChild(api, childConfigs, child)) api.stopExecution?.();
  };
  const fail = (what: string, error: NodeErrorInfo): void => {
    api.log?.('error', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: ${what}: ${error.code}: ${error.message}`);
  };
  const sayWithCancel = (text: string): void => {
    const label = config.cancelButtonLabel.trim();
    if (label) api.say?.(text, cancelQuickReplyData(text, label));
    else api.say?.(text);
  };

  try {
    // Cognigy may run the node twice on one input (a branch ending in "Go To → this node (continue)",
    // the guard after a branch): the input was handled, so neither send nor say anything again.
    if (state && inputId !== null && state.lastInputId === inputId) {
      if (state.active) stay();
      else api.stopExecution?.();
      return;
    }
    const classified = classifyInput(input);

    // 1. An event injected by our relay: update the state and take its branch. No relay call.
    if (classified.kind === 'malformedEvent') {
      api.log?.('warn', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: ignored a malformed handover event.`);
      if (state?.active) stay();
      else api.stopExecution?.();
      return;
    }
    if (classified.kind === 'event') {
      const { event } = classified;
      const decision = decideEvent(event, state);
      if (decision.action === 'ignore') {
        api.log?.('info', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: ignored a "${event.status}" event (${decision.reason}).`);
        if (state?.active) stay();
        else api.stopExecution?.();
        return;
      }
      const now = nowIso();
      const next = applyEvent(decision.state, event, decision.route, now);
      save(next);
      // Where Cognigy's built-in handovers put their events (Lookup node "Handover Status").
      api.addToInput?.('handover', handoverStatusInput(event));
      if (event.status === 'queue' && config.queueMessageTemplate.trim() !== '') {
        sayWithCancel(fillQueueTemplate(config.queueMessageTemplate, next.position, next.estimatedWaitTime));
      }
      if (event.status === 'error' && next.error) fail('Engage reported an error', next.error);
      if (decision.route.staysActive) routeWhileActive(decision.route.child);
      else leaveAndRoute(decision.route.child);
      return;
    }

    // 2. A handover is running: the input is the user talking to the agent.
    if (state?.active) {
      const text = typeof input.text === 'string' ? input.text : '';
      let relay: RelayCallContext;
      try {
        relay = { connection: parseConnection(config.connection), session: sessionFromInput(input), inputId: input.inputId };
      } catch (error) {
        const info = toNodeError(error);
        fail('cannot reach the relay', info);
        save({ ...state, error: { code: info.code, message: info.message }, updatedAt: nowIso() });
        routeWhileActive(HANDOVER_CHILD_TYPES.error);
        return;
      }

      if (isCancelRequest(text, config.cancelPhrases)) {
        try {
          const result = await cancelHandover(relay, { reason: 'user_cancelled' });
          const now = nowIso();
          save({ ...state, active: false, status: result.status, endedAt: now, updatedAt: now, error: null });
          api.addToInput?.('handover', { status: 'cancelled', eventType: 'userCancelled', data: { threadId: state.threadId } });
          leaveAndRoute(HANDOVER_CHILD_TYPES.cancel);
        } catch (error) {
          // The user asked to leave: end locally so they are never stuck, and report why.
          const info = toNodeError(error);
          fail('could not cancel the handover', info);
          const now = nowIso();
          save({ ...state, active: false, status: 'error', endedAt: now, updatedAt: now, error: { code: info.code, message: info.message } });
          leaveAndRoute(HANDOVER_CHILD_TYPES.error);
        }
        return;
      }

      const attachments = attachmentsFrom(input.data);
      if (text.trim() === '' && attachments.length === 0) {
        stay();
        return;
      }
      try {
        const result = await sendUserMessage(relay, userMessageRequest(input, api));
        const now = nowIso();
        if (!result.forwarded && ['completed', 'cancelled', 'idle', 'error'].includes(result.status)) {
          // The relay says the handover is over (its event never reached us): leave it.
          save({ ...state, active: false, status: result.status, endedAt: now, updatedAt: now });
          leaveAndRoute(
            result.status === 'cancelled'
              ? HANDOVER_CHILD_TYPES.cancel
              : result.status === 'error'
                ? HANDOVER_CHILD_TYPES.error
                : HANDOVER_CHILD_TYPES.returnToBot,
          );
          return;
        }
        save({ ...state, status: result.status, updatedAt: now });
        stay();
      } catch (error) {
        const info = toNodeError(error);
        fail('could not forward the message to the agent', info);
        save({ ...state, error: { code: info.code, message: info.message }, updatedAt: nowIso() });
        routeWhileActive(HANDOVER_CHILD_TYPES.error);
      }
      return;
    }

    // 3. No handover yet: start one.
    try {
      const relay: RelayCallContext = {
        connection: parseConnection(config.connection),
        session: sessionFromInput(input),
        inputId: input.inputId,
      };
      const profileMapping = parseProfileMapping(config.profileMapping);
      const { profile, withheld } = config.useCognigyProfile ? contactProfileFrom(cognigy.profile) : { profile: {}, withheld: false };
      if (withheld) api.log?.('info', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: the contact opted out of data collection; the profile is not sent.`);
      const { transcript, dropped: droppedLines } = transcriptFrom(config.transcript);
      if (droppedLines > 0) api.log?.('warn', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: skipped ${droppedLines} transcript line(s) that are neither {role: "user"|"bot", text} nor Get Transcript entries.`);
      const { contextData, dropped: droppedKeys } = contextDataFrom(config.contextData);
      if (droppedKeys > 0) api.log?.('warn', `${LOG_PREFIX} ${HANDOVER_NODE_TYPE}: skipped ${droppedKeys} context data entr(y/ies) that are not text or lists of text.`);

      const result = await startHandover(relay, {
        profile,
        profileMapping,
        transcript,
        firstMessage: config.firstMessage.slice(0, MAX_TEXT),
        contextData,
        options: {
          forwardOnlyHandoverConversations: config.forwardOnlyHandoverConversations,
          getQueueUpdates: config.getQueueUpdates,
        },
        ...(config.additionalCategoryIds.length > 0 ? { additionalCategoryIds: config.additionalCategoryIds } : {}),
      });
      const now = nowIso();
      save({
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
        sayWithCancel(config.acceptedMessage);
      }
      stay();
    } catch (error) {
      const info = toNodeError(error);
      fail('could not start the handover', info);
      const now = nowIso();
      save({
        active: false,
        threadId: state?.threadId ?? null,
        status: 'error',
        startedAt: state?.startedAt ?? null,
        updatedAt: now,
        error: { code: info.code, message: info.message },
      });
      leaveAndRoute(HANDOVER_CHILD_TYPES.error);
    }
  } catch (error) {
    // Last line of defence: a node must never throw into the Flow.
    const info = toNodeError(error);
    fail('unexpected failure', info);
    leaveAndRoute(HANDOVER_CHILD_TYPES.error);
  }
}

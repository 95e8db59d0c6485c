import { createNodeDescriptor } from '@cognigy/extension-tools';
import { z } from 'zod';
import { DEFAULT_INACTIVITY_NOTICE, DEFAULT_USER_BACK_NOTICE, DEFAULT_USER_LEFT_NOTICE } from '../../../contract/relayApi';
import { ALL_SET_PAYLOAD, HANDOVER_CHILD_TYPES, HANDOVER_NODE_TYPE } from '../handoverLogic';
import {
  BRAND_COLOR,
  childNodeDescriptor,
  configRequiredText,
  configText,
  configTextList,
  configInt,
  configToggle,
  connectionField,
  readConfig,
  storageKey,
} from '../nodeSupport';
import { resolveHandover } from './handoverResolver';

/** The Handover to RCE node: its fields and branches. What it does on an input is in handoverResolver.ts. */

export { HANDOVER_NODE_TYPE };
export const DEFAULT_HANDOVER_CONTEXT_KEY = 'rceHandover';
export const DEFAULT_FIRST_MESSAGE = 'The customer asked for a human agent.';
export const DEFAULT_ACCEPTED_MESSAGE = "Please wait a moment, I'm connecting you with an agent.";
/** Single braces: Cognigy resolves {{…}} itself before the node runs, so the node's own placeholders must differ. */
export const DEFAULT_QUEUE_MESSAGE = 'You are number {position} in the queue. Estimated wait: {wait}.';
export const DEFAULT_AGENT_RELEASED_MESSAGE =
  'The agent had to leave the chat. You are back in the queue; the next available agent will continue.';
export const DEFAULT_CANCEL_PHRASES = ['cancel', 'stop'];
export const DEFAULT_CANCEL_BUTTON_LABEL = 'Cancel';

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
  agentReleasedMessage: configText(DEFAULT_AGENT_RELEASED_MESSAGE),
  longWaitMinutes: configInt(0, 0, 1440),
  longWaitPosition: configInt(0, 0, 100000),
  cancelPhrases: configTextList(DEFAULT_CANCEL_PHRASES),
  cancelDuringLiveChat: configToggle(false),
  cancelButtonLabel: configText(DEFAULT_CANCEL_BUTTON_LABEL),
  transferBranch: configToggle(false),
  helpWhileWaiting: configToggle(false),
  inactivityTimeoutMinutes: configInt(0, 0, 1440),
  inactivityCloses: configToggle(false),
  inactivityNotice: configText(DEFAULT_INACTIVITY_NOTICE),
  userLeftNotice: configText(DEFAULT_USER_LEFT_NOTICE),
  userBackNotice: configText(DEFAULT_USER_BACK_NOTICE),
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
      description:
        'Said when the queue position or the rounded wait changes (not on every update). The node fills in {position}, {wait} ' +
        '("less than a minute", "about 5 minutes", "about 1 hour 15 minutes") and {minutes} (the rounded number); a sentence ' +
        'whose value Engage did not report is left out. Leave empty to say nothing.',
      defaultValue: DEFAULT_QUEUE_MESSAGE,
      condition: { key: 'getQueueUpdates', value: true },
    },
    {
      key: 'agentReleasedMessage',
      type: 'cognigyText',
      label: 'Message when the agent releases the chat',
      description:
        'Said when the agent released the chat without closing it and the user waits again ("On Queue Update" is taken, with ' +
        'input.handover.data.reason = "agent_released"). Leave empty to say nothing.',
      defaultValue: DEFAULT_AGENT_RELEASED_MESSAGE,
    },
    {
      key: 'longWaitMinutes',
      type: 'number',
      label: 'Long wait: estimated wait over (minutes)',
      description:
        'Take "On Long Wait" (once per handover) when Engage estimates a longer wait. 0 = off. Until the user next writes, inputs then ' +
        'start at the Flow start, so an If before the guard can catch the answer to an offer made in the branch (e.g. "Call me back").',
      defaultValue: 0,
      condition: { key: 'getQueueUpdates', value: true },
    },
    {
      key: 'longWaitPosition',
      type: 'number',
      label: 'Long wait: queue position over',
      description: 'Take "On Long Wait" (once per handover) when the user is further back in the queue. 0 = off.',
      defaultValue: 0,
      condition: { key: 'getQueueUpdates', value: true },
    },
    {
      key: 'cancelPhrases',
      type: 'textArray',
      label: 'Cancel phrases',
      description:
        'While the user waits for an agent, a message equal to one of these (case-insensitive) cancels the handover and takes the ' +
        '"On Cancel" branch. During the live chat they are ordinary messages for the agent unless the next option is on.',
      defaultValue: DEFAULT_CANCEL_PHRASES,
    },
    {
      key: 'cancelDuringLiveChat',
      type: 'toggle',
      label: 'Cancel phrases also during the live chat',
      description:
        'On: a cancel phrase also ends the chat with an agent (the agent is told the customer left). Off: the agent receives it as a message.',
      defaultValue: false,
    },
    {
      key: 'cancelButtonLabel',
      type: 'cognigyText',
      label: 'Cancel button label',
      description: "Adds a quick reply with this label to the node's messages; clicking it cancels. Leave empty for no button.",
      defaultValue: DEFAULT_CANCEL_BUTTON_LABEL,
    },
    {
      key: 'helpWhileWaiting',
      type: 'toggle',
      label: 'The bot keeps helping while the user waits',
      description:
        'On: while no agent has joined yet, each user message still goes to Engage (the agent will see it) and then also runs the ' +
        '"While Waiting" branch, so the bot can answer it (input.handover.eventType = "userInputWhileWaiting"). The next input comes ' +
        'back to this node. If the bot solved the problem, offer a quick reply with the payload "' +
        ALL_SET_PAYLOAD +
        '" (e.g. "I\'m all set"): ' +
        'one click withdraws the request in Engage and takes "On Cancel" with input.handover.data.reason = "resolved_by_bot".',
      defaultValue: false,
    },
    {
      key: 'transferBranch',
      type: 'toggle',
      label: 'Use the "On Transfer" branch',
      description:
        'On: when Engage reassigns the chat to another agent, take "On Transfer". Off: take "On Agent Joined" again. ' +
        'Either way input.handover.data.reason is "transferred" and agentName names the new agent.',
      defaultValue: false,
    },
    {
      key: 'inactivityTimeoutMinutes',
      type: 'number',
      label: 'Inactivity timeout (minutes)',
      description:
        'The user silent this long while with an agent: the relay tells the agent (and closes the handover if set below). 0 = off.',
      defaultValue: 0,
    },
    {
      key: 'inactivityCloses',
      type: 'toggle',
      label: 'Close the handover on inactivity',
      description:
        'On: after the timeout the relay also closes the handover; the node takes "On Return to Bot" with input.handover.data.reason = "inactivity".',
      defaultValue: false,
      condition: { key: 'inactivityTimeoutMinutes', value: 0, negate: true },
    },
    {
      key: 'inactivityNotice',
      type: 'cognigyText',
      label: 'Inactivity notice to the agent',
      description: "What the agent is told when the timeout passes. Empty: the relay's default.",
      defaultValue: DEFAULT_INACTIVITY_NOTICE,
      condition: { key: 'inactivityTimeoutMinutes', value: 0, negate: true },
    },
    {
      key: 'userLeftNotice',
      type: 'cognigyText',
      label: 'Notice to the agent when the customer leaves',
      description: "Posted to the agent when the customer cancels during the live chat. Empty: the relay's default.",
      defaultValue: DEFAULT_USER_LEFT_NOTICE,
    },
    {
      key: 'userBackNotice',
      type: 'cognigyText',
      label: 'Notice to the agent when the customer comes back',
      description: "Posted to the agent when a customer who left writes again or asks for a new handover. Empty: the relay's default.",
      defaultValue: DEFAULT_USER_BACK_NOTICE,
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
        "Engage category ids added to the conversation together with the Agent category (as in Cognigy's built-in RingCentral Engage handover). " +
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
        'agentReleasedMessage',
        'longWaitMinutes',
        'longWaitPosition',
        'cancelPhrases',
        'cancelDuringLiveChat',
        'cancelButtonLabel',
        'helpWhileWaiting',
      ],
    },
    {
      key: 'agentSide',
      label: 'Live chat',
      defaultCollapsed: true,
      fields: ['transferBranch', 'inactivityTimeoutMinutes', 'inactivityCloses', 'inactivityNotice', 'userLeftNotice', 'userBackNotice'],
    },
    { key: 'storage', label: 'Storage', defaultCollapsed: true, fields: ['contextKey'] },
    { key: 'engageSettings', label: 'RingCentral Engage Settings', defaultCollapsed: true, fields: ['additionalCategoryIds'] },
  ],
  form: [
    { type: 'section', key: 'connectionSettings' },
    { type: 'section', key: 'handover' },
    { type: 'section', key: 'contactProfile' },
    { type: 'section', key: 'options' },
    { type: 'section', key: 'agentSide' },
    { type: 'section', key: 'storage' },
    { type: 'section', key: 'engageSettings' },
  ],
  dependencies: { children: Object.values(HANDOVER_CHILD_TYPES) },
  function: (params) => resolveHandover(params, readConfig(handoverConfigSchema, params.config)),
});

export const onQueueUpdateNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.queueUpdate,
  parentType: HANDOVER_NODE_TYPE,
  label: 'On Queue Update',
  color: '#3D9FFF',
});
export const onAgentJoinedNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.agentJoined,
  parentType: HANDOVER_NODE_TYPE,
  label: 'On Agent Joined',
  color: '#2E9E5B',
});
export const onReturnToBotNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.returnToBot,
  parentType: HANDOVER_NODE_TYPE,
  label: 'On Return to Bot',
  color: '#2E9E5B',
});
export const onCancelNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.cancel,
  parentType: HANDOVER_NODE_TYPE,
  label: 'On Cancel',
  color: '#8A8F98',
});
export const onTransferNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.transfer,
  parentType: HANDOVER_NODE_TYPE,
  label: 'On Transfer',
  color: '#2E9E5B',
});
export const onLongWaitNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.longWait,
  parentType: HANDOVER_NODE_TYPE,
  label: 'On Long Wait',
  color: '#E0A100',
});
export const onWhileWaitingNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.whileWaiting,
  parentType: HANDOVER_NODE_TYPE,
  label: 'While Waiting',
  color: '#3D9FFF',
});
export const onErrorNode = childNodeDescriptor({
  type: HANDOVER_CHILD_TYPES.error,
  parentType: HANDOVER_NODE_TYPE,
  label: 'On Error',
  color: '#D64545',
});

export const handoverToRceNodes = [
  handoverToRceNode,
  onQueueUpdateNode,
  onAgentJoinedNode,
  onReturnToBotNode,
  onCancelNode,
  onErrorNode,
  onLongWaitNode,
  onTransferNode,
  onWhileWaitingNode,
];

import { createNodeDescriptor, type INodeFunctionBaseParams } from '@cognigy/extension-tools';
import { z } from 'zod';
import { botStructuredContent } from '../botStructuredContent';
import { parseConnection } from '../connection';
import { attachmentsFrom, classifyInput, readHandoverState, type UserAttachment } from '../handoverLogic';
import {
  BRAND_COLOR,
  LOG_PREFIX,
  configText,
  configToggle,
  connectionField,
  readConfig,
  storageKey,
  toNodeError,
  type NodeApi,
} from '../nodeSupport';
import { sendUserMessage, sessionFromInput } from '../relayClient';
import { DEFAULT_HANDOVER_CONTEXT_KEY } from './handoverToRce';

export const MIRROR_NODE_TYPE = 'mirrorToRce';
const MAX_TEXT = 20000;

const mirrorConfigSchema = z.object({
  connection: z.unknown(),
  mirrorUserInput: configToggle(true),
  botText: configText(''),
  /** The Say node's quick replies / buttons / gallery data, mirrored as Engage structured content. */
  botData: z.unknown().optional(),
  contextKey: z.unknown().transform((v) => storageKey(v, DEFAULT_HANDOVER_CONTEXT_KEY)),
});
export type MirrorNodeConfig = z.output<typeof mirrorConfigSchema>;

export interface MirrorMessage {
  role: 'user' | 'bot';
  text: string;
  attachments: UserAttachment[];
  /** Bot only: Engage structured content built from the bot's quick replies, buttons or gallery. */
  structuredContent?: Record<string, unknown>;
}

export type MirrorDecision =
  | { action: 'send'; message: MirrorMessage }
  /** No relay call: the Handover node forwards during a handover, relay events are not conversation, or there is nothing to say. */
  | { action: 'skip'; reason: 'handover_event' | 'handover_active' | 'nothing_to_send' };

/**
 * What one execution of the node mirrors: at most one message. The user input (text and
 * attachment URLs) when "Mirror the user input" is on and the input has any, else the bot text.
 */
export function decideMirror(params: {
  input: { text?: unknown; data?: unknown };
  handoverActive: boolean;
  mirrorUserInput: boolean;
  botText: string;
  botData?: unknown;
}): MirrorDecision {
  const { input } = params;
  // Events injected by the relay (valid or malformed) are never conversation text.
  if (classifyInput(input).kind !== 'userInput') return { action: 'skip', reason: 'handover_event' };
  if (params.handoverActive) return { action: 'skip', reason: 'handover_active' };
  if (params.mirrorUserInput) {
    const text = typeof input.text === 'string' && input.text.trim() !== '' ? input.text.slice(0, MAX_TEXT) : '';
    const attachments = attachmentsFrom(input.data);
    if (text !== '' || attachments.length > 0) return { action: 'send', message: { role: 'user', text, attachments } };
  }
  const structured = botStructuredContent(params.botData);
  const botText = params.botText.trim() !== '' ? params.botText.slice(0, MAX_TEXT) : (structured?.text.slice(0, MAX_TEXT) ?? '');
  if (botText.trim() !== '') {
    const message: MirrorMessage = { role: 'bot', text: botText, attachments: [] };
    if (structured) message.structuredContent = structured.structuredContent;
    return { action: 'send', message };
  }
  return { action: 'skip', reason: 'nothing_to_send' };
}

/**
 * The request id is derived from the input id; two Mirror nodes in one input (user text, then
 * bot text) must not look like a retry of each other, so the node id is part of it.
 */
export function mirrorInputId(inputId: unknown, nodeId: string): string | undefined {
  return typeof inputId === 'string' && inputId.trim() !== '' ? `${inputId}:${MIRROR_NODE_TYPE}:${nodeId}` : undefined;
}

export const mirrorToRceNode = createNodeDescriptor({
  type: MIRROR_NODE_TYPE,
  defaultLabel: 'Mirror to RCE',
  summary:
    'Mirrors the conversation to RingCentral Engage under the Bot category before any handover, so agents later see the history. ' +
    'Only needed when "Forward Only Handover Conversations" is off; switch that toggle off on the Handover to RCE node too. ' +
    'Place it at the Flow start (user messages) and, with a bot message, after bot outputs. Sends at most one message per execution and never stops the Flow.',
  appearance: { color: BRAND_COLOR, textColor: 'white' },
  tags: ['service'],
  fields: [
    connectionField,
    {
      key: 'mirrorUserInput',
      type: 'toggle',
      label: 'Mirror the user input',
      description: "Sends the user's message (input.text and input.data.attachments URLs) to Engage as the customer.",
      defaultValue: true,
    },
    {
      key: 'botText',
      type: 'cognigyText',
      label: 'Bot message to mirror',
      description:
        'Sent to Engage as the bot when there is no user input to mirror (or the toggle above is off), e.g. the text of the Say node before this one. ' +
        'One message per execution: to mirror both, use a second Mirror to RCE node with the toggle off. CognigyScript allowed.',
      defaultValue: '',
    },
    {
      key: 'botData',
      type: 'json',
      label: 'Bot quick replies or cards to mirror',
      description:
        'Optional: the data of the Say node whose quick replies, buttons or gallery the agent should see ({"_cognigy": {"_default": {"_quickReplies": …}}}). ' +
        'Sent to Engage as a structured message (select, template or carousel) from the Bot identity, with the bot message (or the quick replies text) as its text.',
      defaultValue: {},
    },
    {
      key: 'contextKey',
      type: 'cognigyText',
      label: 'Context key of the handover state',
      description:
        'The Handover to RCE node\'s "Context key for the handover state". While context.<key>.active is true the node sends nothing (the Handover node forwards then).',
      defaultValue: DEFAULT_HANDOVER_CONTEXT_KEY,
    },
  ],
  sections: [
    { key: 'connectionSettings', label: 'Connection', defaultCollapsed: false, fields: ['connection'] },
    { key: 'mirror', label: 'Mirror', defaultCollapsed: false, fields: ['mirrorUserInput', 'botText', 'botData'] },
    { key: 'storage', label: 'Storage', defaultCollapsed: true, fields: ['contextKey'] },
  ],
  form: [
    { type: 'section', key: 'connectionSettings' },
    { type: 'section', key: 'mirror' },
    { type: 'section', key: 'storage' },
  ],
  function: runMirrorToRce,
});

export const mirrorToRceNodes = [mirrorToRceNode];

/** One execution: at most one relay call; never throws, never changes where the Flow goes. */
async function runMirrorToRce(params: INodeFunctionBaseParams): Promise<void> {
  const { cognigy, nodeId } = params;
  const api: NodeApi = cognigy.api;
  try {
    const config = readConfig(mirrorConfigSchema, params.config);
    const input = cognigy.input;
    const decision = decideMirror({
      input,
      handoverActive: readHandoverState(cognigy.context, config.contextKey)?.active === true,
      mirrorUserInput: config.mirrorUserInput,
      botText: config.botText,
      botData: config.botData,
    });
    if (decision.action === 'skip') return;
    const relay = {
      connection: parseConnection(config.connection),
      session: sessionFromInput(input),
      inputId: mirrorInputId(input.inputId, nodeId),
    };
    const result = await sendUserMessage(relay, { ...decision.message, mirror: true });
    if (!result.forwarded) {
      api.log?.(
        'warn',
        `${LOG_PREFIX} ${MIRROR_NODE_TYPE}: the relay did not mirror the ${decision.message.role} message (status ${result.status}).`,
      );
    }
  } catch (error) {
    // Mirroring must never break the bot conversation: log and continue with the next node.
    const info = toNodeError(error);
    api.log?.('error', `${LOG_PREFIX} ${MIRROR_NODE_TYPE}: could not mirror the message: ${info.code}: ${info.message}`);
  }
}

import { createNodeDescriptor, type INodeFunctionBaseParams } from '@cognigy/extension-tools';
import { z } from 'zod';
import { parseConnection } from '../connection';
import { readHandoverState } from '../handoverLogic';
import {
  BRAND_COLOR,
  LOG_PREFIX,
  childNodeDescriptor,
  configRequiredText,
  connectionField,
  nowIso,
  readConfig,
  routeToChild,
  storageKey,
  toNodeError,
  type NodeApi,
} from '../nodeSupport';
import { closeHandover, sessionFromInput } from '../relayClient';
import { DEFAULT_HANDOVER_CONTEXT_KEY } from './handoverToRce';

export const CLOSE_NODE_TYPE = 'closeRceHandover';
export const CLOSE_CHILD_TYPES = {
  closed: 'closeRceHandoverOnClosed',
  notRunning: 'closeRceHandoverOnNotRunning',
  error: 'closeRceHandoverOnError',
} as const;
export const DEFAULT_CLOSE_REASON = 'closed_by_flow';
/** The relay's code when Engage could not be reached or refused (relay/src/api/extensionApiHandler.ts). */
const ENGAGE_UNAVAILABLE = 'engage_unavailable';

const closeConfigSchema = z.object({
  connection: z.unknown(),
  reason: configRequiredText(DEFAULT_CLOSE_REASON).transform((r) => r.slice(0, 500)),
  contextKey: z.unknown().transform((v) => storageKey(v, DEFAULT_HANDOVER_CONTEXT_KEY)),
});

export const closeRceHandoverNode = createNodeDescriptor({
  type: CLOSE_NODE_TYPE,
  defaultLabel: 'Close RCE Handover',
  summary:
    "Ends this conversation's handover from the Flow: Engage closes the intervention (or cancels it when no agent has taken it yet), the " +
    "thread goes back to the Bot category, and the Handover node's state ends, so the next input runs the Flow normally.",
  appearance: { color: BRAND_COLOR, textColor: 'white' },
  tags: ['service'],
  fields: [
    connectionField,
    {
      key: 'reason',
      type: 'cognigyText',
      label: 'Reason',
      description: 'Recorded by the relay with the close (at most 500 characters), e.g. "callback_requested".',
      defaultValue: DEFAULT_CLOSE_REASON,
    },
    {
      key: 'contextKey',
      type: 'cognigyText',
      label: 'Context key of the handover state',
      description: 'The "Context key for the handover state" of the Handover to RCE node; its state is ended here.',
      defaultValue: DEFAULT_HANDOVER_CONTEXT_KEY,
    },
  ],
  sections: [
    { key: 'connectionSettings', label: 'Connection', defaultCollapsed: false, fields: ['connection'] },
    { key: 'options', label: 'Options', defaultCollapsed: true, fields: ['reason', 'contextKey'] },
  ],
  form: [
    { type: 'section', key: 'connectionSettings' },
    { type: 'section', key: 'options' },
  ],
  dependencies: { children: Object.values(CLOSE_CHILD_TYPES) },
  function: runCloseHandover,
});

export const closeOnClosedNode = childNodeDescriptor({
  type: CLOSE_CHILD_TYPES.closed,
  parentType: CLOSE_NODE_TYPE,
  label: 'On Closed',
  color: '#2E9E5B',
});
export const closeOnNotRunningNode = childNodeDescriptor({
  type: CLOSE_CHILD_TYPES.notRunning,
  parentType: CLOSE_NODE_TYPE,
  label: 'On Not Running',
  color: '#8A8F98',
});
export const closeOnErrorNode = childNodeDescriptor({
  type: CLOSE_CHILD_TYPES.error,
  parentType: CLOSE_NODE_TYPE,
  label: 'On Error',
  color: '#D64545',
});

export const closeRceHandoverNodes = [closeRceHandoverNode, closeOnClosedNode, closeOnNotRunningNode, closeOnErrorNode];

async function runCloseHandover(params: INodeFunctionBaseParams): Promise<void> {
  const { cognigy, childConfigs } = params;
  const api: NodeApi = cognigy.api;
  const config = readConfig(closeConfigSchema, params.config);
  const state = readHandoverState(cognigy.context, config.contextKey);
  try {
    const result = await closeHandover(
      { connection: parseConnection(config.connection), session: sessionFromInput(cognigy.input), inputId: cognigy.input.inputId },
      { reason: config.reason },
    );
    // The relay injects no event for a close the Flow asked for: end the node's state here, so
    // the Flow-start guard lets the next input through. lastInputId stays: a Handover node run
    // again on this input only waits (or, now inactive, stops).
    if (state) {
      const now = nowIso();
      api.addToContext?.(
        config.contextKey,
        {
          ...state,
          active: false,
          status: result.status,
          endedAt: state.active ? now : (state.endedAt ?? now),
          updatedAt: now,
          closeOutcome: result.outcome,
        },
        'simple',
      );
    }
    api.addToInput?.('rceClose', result);
    routeToChild(api, childConfigs, result.outcome === 'not_running' ? CLOSE_CHILD_TYPES.notRunning : CLOSE_CHILD_TYPES.closed);
  } catch (error) {
    const info = toNodeError(error);
    api.log?.('error', `${LOG_PREFIX} ${CLOSE_NODE_TYPE}: could not close the handover: ${info.code}: ${info.message}`);
    // The relay answers engage_unavailable only after it ended the handover on its side (the thread
    // is back with the bot; it keeps ending the intervention in Engage): the handover is over here too.
    const endedAtRelay = info.code === ENGAGE_UNAVAILABLE && state?.active === true;
    if (state && endedAtRelay) {
      const now = nowIso();
      api.addToContext?.(
        config.contextKey,
        { ...state, active: false, status: 'completed', endedAt: now, updatedAt: now, error: { code: info.code, message: info.message } },
        'simple',
      );
    }
    api.addToInput?.('rceClose', { error: { code: info.code, message: info.message }, handoverEnded: endedAtRelay });
    routeToChild(api, childConfigs, CLOSE_CHILD_TYPES.error);
  }
}

import { createNodeDescriptor, type INodeFunctionBaseParams } from '@cognigy/extension-tools';
import { z } from 'zod';
import { parseConnection } from '../connection';
import {
  BRAND_COLOR,
  LOG_PREFIX,
  successAndErrorChildren,
  configChoice,
  connectionField,
  nowIso,
  readConfig,
  routeToChild,
  storageKey,
  storeResult,
  toNodeError,
  type NodeApi,
} from '../nodeSupport';
import { queueStatus, sessionFromInput } from '../relayClient';

export const QUEUE_STATUS_NODE_TYPE = 'getQueueStatus';
export const QUEUE_STATUS_CHILD_TYPES = {
  success: 'getQueueStatusOnSuccess',
  error: 'getQueueStatusOnError',
} as const;
export const DEFAULT_QUEUE_KEY = 'rceQueue';

const queueConfigSchema = z.object({
  connection: z.unknown(),
  storeLocation: configChoice(['context', 'input'], 'context'),
  contextKey: z.unknown().transform((v) => storageKey(v, DEFAULT_QUEUE_KEY)),
  inputKey: z.unknown().transform((v) => storageKey(v, DEFAULT_QUEUE_KEY)),
});

/** What the node stores. `known: false` (and nulls) until Engage has reported a position. */
export interface StoredQueueStatus {
  known: boolean;
  position: number | null;
  /** Milliseconds. */
  estimatedWaitTime: number | null;
  status: string;
  updatedAt: string | null;
}

export const getQueueStatusNode = createNodeDescriptor({
  type: QUEUE_STATUS_NODE_TYPE,
  defaultLabel: 'Get RCE Queue Status',
  summary: 'Reads the latest Engage queue position and estimated wait for this conversation from the relay.',
  appearance: { color: BRAND_COLOR, textColor: 'white' },
  tags: ['service'],
  fields: [
    connectionField,
    {
      key: 'storeLocation',
      type: 'select',
      label: 'Where to store the result',
      description:
        'The result is {known, position, estimatedWaitTime (ms), status, updatedAt}; known is false until Engage reports a position.',
      defaultValue: 'context',
      params: {
        options: [
          { label: 'Context', value: 'context' },
          { label: 'Input', value: 'input' },
        ],
        required: true,
      },
    },
    {
      key: 'contextKey',
      type: 'cognigyText',
      label: 'Context key',
      defaultValue: DEFAULT_QUEUE_KEY,
      condition: { key: 'storeLocation', value: 'context' },
    },
    {
      key: 'inputKey',
      type: 'cognigyText',
      label: 'Input key',
      defaultValue: DEFAULT_QUEUE_KEY,
      condition: { key: 'storeLocation', value: 'input' },
    },
  ],
  sections: [
    { key: 'connectionSettings', label: 'Connection', defaultCollapsed: false, fields: ['connection'] },
    { key: 'storage', label: 'Storage', defaultCollapsed: true, fields: ['storeLocation', 'contextKey', 'inputKey'] },
  ],
  form: [
    { type: 'section', key: 'connectionSettings' },
    { type: 'section', key: 'storage' },
  ],
  dependencies: { children: Object.values(QUEUE_STATUS_CHILD_TYPES) },
  function: runGetQueueStatus,
});

export const [getQueueStatusOnSuccessNode, getQueueStatusOnErrorNode] = successAndErrorChildren(
  QUEUE_STATUS_NODE_TYPE,
  QUEUE_STATUS_CHILD_TYPES,
);

export const getQueueStatusNodes = [getQueueStatusNode, getQueueStatusOnSuccessNode, getQueueStatusOnErrorNode];

async function runGetQueueStatus(params: INodeFunctionBaseParams): Promise<void> {
  const { cognigy, childConfigs } = params;
  const api: NodeApi = cognigy.api;
  const config = readConfig(queueConfigSchema, params.config);
  const key = config.storeLocation === 'input' ? config.inputKey : config.contextKey;
  try {
    const result = await queueStatus({
      connection: parseConnection(config.connection),
      session: sessionFromInput(cognigy.input),
      inputId: cognigy.input.inputId,
    });
    const stored: StoredQueueStatus = {
      known: result.known,
      position: result.known ? result.position : null,
      estimatedWaitTime: result.known ? result.estimatedWaitTime : null,
      status: result.status,
      updatedAt: result.updatedAt,
    };
    storeResult(api, config.storeLocation, key, stored);
    routeToChild(api, childConfigs, QUEUE_STATUS_CHILD_TYPES.success);
  } catch (error) {
    const info = toNodeError(error);
    api.log?.('error', `${LOG_PREFIX} ${QUEUE_STATUS_NODE_TYPE}: could not read the queue status: ${info.code}: ${info.message}`);
    storeResult(api, config.storeLocation, key, { error: { code: info.code, message: info.message }, updatedAt: nowIso() });
    routeToChild(api, childConfigs, QUEUE_STATUS_CHILD_TYPES.error);
  }
}

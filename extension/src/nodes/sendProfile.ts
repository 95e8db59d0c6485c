import { createNodeDescriptor, type INodeFunctionBaseParams } from '@cognigy/extension-tools';
import { z } from 'zod';
import { parseConnection } from '../connection';
import {
  BRAND_COLOR,
  LOG_PREFIX,
  successAndErrorChildren,
  configToggle,
  connectionField,
  nowIso,
  readConfig,
  routeToChild,
  storageKey,
  storeResult,
  toNodeError,
  type NodeApi,
} from '../nodeSupport';
import { ENGAGE_USER_KEYS, contactProfileFrom, parseProfileMapping } from '../profile';
import { sendProfile, sessionFromInput } from '../relayClient';

export const SEND_PROFILE_NODE_TYPE = 'sendProfile';
export const SEND_PROFILE_CHILD_TYPES = {
  success: 'sendProfileOnSuccess',
  error: 'sendProfileOnError',
} as const;
export const DEFAULT_PROFILE_RESULT_KEY = 'rceProfile';

const sendProfileConfigSchema = z.object({
  connection: z.unknown(),
  useCognigyProfile: configToggle(true),
  customProfile: z.unknown(),
  profileMapping: z.unknown(),
  contextKey: z.unknown().transform((v) => storageKey(v, DEFAULT_PROFILE_RESULT_KEY)),
});

export const sendProfileNode = createNodeDescriptor({
  type: SEND_PROFILE_NODE_TYPE,
  defaultLabel: 'Send Profile to RCE',
  summary: 'Sends the contact profile to RingCentral Engage so agents see who they talk to (e.g. after the user shared new details).',
  appearance: { color: BRAND_COLOR, textColor: 'white' },
  tags: ['service', 'profile'],
  fields: [
    connectionField,
    {
      key: 'useCognigyProfile',
      type: 'toggle',
      label: 'Send the Cognigy contact profile',
      description: 'On: send the contact profile. Off: send the custom profile below instead.',
      defaultValue: true,
    },
    {
      key: 'customProfile',
      type: 'json',
      label: 'Custom profile',
      description: 'A flat JSON object, e.g. {"firstname": "{{context.firstName}}", "email": "{{context.email}}"}.',
      defaultValue: {},
      condition: { key: 'useCognigyProfile', value: false },
    },
    {
      key: 'profileMapping',
      type: 'json',
      label: 'Extra profile mappings',
      description: `Profile key → Engage user key. Targets: ${ENGAGE_USER_KEYS.join(', ')} or context_data.<key>. Unmapped keys go to context_data.`,
      defaultValue: {},
    },
    {
      key: 'contextKey',
      type: 'cognigyText',
      label: 'Context key for the result',
      description: 'Stores {queued, authorId} on success or {error: {code, message}} on failure.',
      defaultValue: DEFAULT_PROFILE_RESULT_KEY,
    },
  ],
  sections: [
    { key: 'connectionSettings', label: 'Connection', defaultCollapsed: false, fields: ['connection'] },
    {
      key: 'contactProfile',
      label: 'Contact profile',
      defaultCollapsed: false,
      fields: ['useCognigyProfile', 'customProfile', 'profileMapping'],
    },
    { key: 'storage', label: 'Storage', defaultCollapsed: true, fields: ['contextKey'] },
  ],
  form: [
    { type: 'section', key: 'connectionSettings' },
    { type: 'section', key: 'contactProfile' },
    { type: 'section', key: 'storage' },
  ],
  dependencies: { children: Object.values(SEND_PROFILE_CHILD_TYPES) },
  function: runSendProfile,
});

export const [sendProfileOnSuccessNode, sendProfileOnErrorNode] = successAndErrorChildren(SEND_PROFILE_NODE_TYPE, SEND_PROFILE_CHILD_TYPES);

export const sendProfileNodes = [sendProfileNode, sendProfileOnSuccessNode, sendProfileOnErrorNode];

async function runSendProfile(params: INodeFunctionBaseParams): Promise<void> {
  const { cognigy, childConfigs } = params;
  const api: NodeApi = cognigy.api;
  const config = readConfig(sendProfileConfigSchema, params.config);
  try {
    const connection = parseConnection(config.connection);
    const session = sessionFromInput(cognigy.input);
    const profileMapping = parseProfileMapping(config.profileMapping);
    const { profile, withheld } = contactProfileFrom(config.useCognigyProfile ? cognigy.profile : config.customProfile);
    if (withheld) {
      api.log?.('info', `${LOG_PREFIX} ${SEND_PROFILE_NODE_TYPE}: the contact opted out of data collection; nothing was sent.`);
      storeResult(api, 'context', config.contextKey, { queued: false, authorId: null, withheld: true });
      routeToChild(api, childConfigs, SEND_PROFILE_CHILD_TYPES.success);
      return;
    }
    const result = await sendProfile({ connection, session, inputId: cognigy.input.inputId }, { profile, profileMapping });
    storeResult(api, 'context', config.contextKey, { queued: result.queued, authorId: result.authorId });
    routeToChild(api, childConfigs, SEND_PROFILE_CHILD_TYPES.success);
  } catch (error) {
    const info = toNodeError(error);
    api.log?.('error', `${LOG_PREFIX} ${SEND_PROFILE_NODE_TYPE}: could not send the profile: ${info.code}: ${info.message}`);
    storeResult(api, 'context', config.contextKey, { error: { code: info.code, message: info.message }, updatedAt: nowIso() });
    routeToChild(api, childConfigs, SEND_PROFILE_CHILD_TYPES.error);
  }
}

import { createNodeDescriptor, type INodeFunctionBaseParams } from '@cognigy/extension-tools';
import { z } from 'zod';
import { BusinessHoursError, checkBusinessHours, parseBusinessHours, type BusinessHoursVerdict } from '../businessHours';
import { parseConnection } from '../connection';
import {
  BRAND_COLOR,
  LOG_PREFIX,
  NodeInputError,
  childNodeDescriptor,
  configChoice,
  configText,
  configTextList,
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
import { agentAvailability, sessionFromInput } from '../relayClient';

export const AVAILABILITY_NODE_TYPE = 'checkAgentAvailability';
export const AVAILABILITY_CHILD_TYPES = {
  available: 'checkAgentAvailabilityOnAvailable',
  unavailable: 'checkAgentAvailabilityOnUnavailable',
  error: 'checkAgentAvailabilityOnError',
} as const;
/** Cognigy's built-in Check Agent Availability stores in input.availableAgents; ours names its own key. */
export const DEFAULT_AVAILABILITY_KEY = 'rceAvailability';
export const DEFAULT_TIME_ZONE = 'UTC';
export const DEFAULT_WEEKLY_HOURS = {
  mon: '09:00-17:00',
  tue: '09:00-17:00',
  wed: '09:00-17:00',
  thu: '09:00-17:00',
  fri: '09:00-17:00',
  sat: null,
  sun: null,
};

const availabilityConfigSchema = z.object({
  connection: z.unknown(),
  useBusinessHours: configToggle(false),
  timeZone: configText(DEFAULT_TIME_ZONE),
  weeklyHours: z.unknown(),
  closedDates: configTextList([]),
  categoryIds: configTextList([]).transform((ids) => [...new Set(ids.map((id) => id.trim()).filter(Boolean))]),
  storeLocation: configChoice(['context', 'input'], 'input'),
  contextKey: z.unknown().transform((v) => storageKey(v, DEFAULT_AVAILABILITY_KEY)),
  inputKey: z.unknown().transform((v) => storageKey(v, DEFAULT_AVAILABILITY_KEY)),
});

/** Why the node took its branch. */
export type AvailabilityReason = 'agents_available' | 'no_agents_available' | 'outside_business_hours' | 'closed_date';

/** What the node stores. */
export interface StoredAvailability {
  available: boolean;
  reason: AvailabilityReason;
  /** Engage agents able to take the conversation now; null when Engage was not asked (outside hours). */
  availableAgents: number | null;
  checkedAt: string;
  /** The wall clock the schedule was read at, when business hours are on. */
  businessHours?: { open: boolean; localDate: string; localTime: string; weekday: string; timeZone: string };
}

export const checkAgentAvailabilityNode = createNodeDescriptor({
  type: AVAILABILITY_NODE_TYPE,
  defaultLabel: 'Check RCE Agent Availability',
  summary:
    'Asks Engage (through the relay) whether agents who could take this conversation are available now, optionally only within business hours. ' +
    'Place it before "Handover to RCE": On Available → the handover; On Unavailable → an offline message, a ticket or a callback.',
  appearance: { color: BRAND_COLOR, textColor: 'white' },
  tags: ['service'],
  fields: [
    connectionField,
    {
      key: 'useBusinessHours',
      type: 'toggle',
      label: 'Use business hours',
      description: 'On: outside the hours below (or on a closed date) the node takes "On Unavailable" without asking Engage.',
      defaultValue: false,
    },
    {
      key: 'timeZone',
      type: 'cognigyText',
      label: 'Time zone',
      description: 'IANA time zone name of the hours, e.g. "Europe/Berlin" or "America/New_York". Daylight-saving time is followed.',
      defaultValue: DEFAULT_TIME_ZONE,
      condition: { key: 'useBusinessHours', value: true },
    },
    {
      key: 'weeklyHours',
      type: 'json',
      label: 'Weekly hours',
      description:
        'Opening hours per weekday (mon … sun), 24-hour clock: a range "09:00-17:00", a list ["08:00-12:00", "13:00-17:00"], or null for closed. ' +
        'A range past midnight ("22:00-02:00") runs into the next day; "24:00" may end a range.',
      defaultValue: DEFAULT_WEEKLY_HOURS,
      condition: { key: 'useBusinessHours', value: true },
    },
    {
      key: 'closedDates',
      type: 'textArray',
      label: 'Closed dates',
      description: 'Whole days closed, in the time zone above: "2025-12-24", or a span "2025-12-24..2025-12-26".',
      defaultValue: [],
      condition: { key: 'useBusinessHours', value: true },
    },
    {
      key: 'categoryIds',
      type: 'textArray',
      label: 'Engage category IDs',
      description:
        'Count agents who can work on these Engage categories. Empty: the Agent category of the connection (the one handovers use).',
      defaultValue: [],
    },
    {
      key: 'storeLocation',
      type: 'select',
      label: 'Where to store the result',
      description: 'The result is {available, reason, availableAgents, checkedAt, businessHours?}.',
      defaultValue: 'input',
      params: {
        options: [
          { label: 'Input', value: 'input' },
          { label: 'Context', value: 'context' },
        ],
        required: true,
      },
    },
    {
      key: 'inputKey',
      type: 'cognigyText',
      label: 'Input key',
      defaultValue: DEFAULT_AVAILABILITY_KEY,
      condition: { key: 'storeLocation', value: 'input' },
    },
    {
      key: 'contextKey',
      type: 'cognigyText',
      label: 'Context key',
      defaultValue: DEFAULT_AVAILABILITY_KEY,
      condition: { key: 'storeLocation', value: 'context' },
    },
  ],
  sections: [
    { key: 'connectionSettings', label: 'Connection', defaultCollapsed: false, fields: ['connection'] },
    {
      key: 'businessHours',
      label: 'Business hours',
      defaultCollapsed: false,
      fields: ['useBusinessHours', 'timeZone', 'weeklyHours', 'closedDates'],
    },
    { key: 'engageSettings', label: 'RingCentral Engage Settings', defaultCollapsed: true, fields: ['categoryIds'] },
    { key: 'storage', label: 'Storage', defaultCollapsed: true, fields: ['storeLocation', 'inputKey', 'contextKey'] },
  ],
  form: [
    { type: 'section', key: 'connectionSettings' },
    { type: 'section', key: 'businessHours' },
    { type: 'section', key: 'engageSettings' },
    { type: 'section', key: 'storage' },
  ],
  dependencies: { children: Object.values(AVAILABILITY_CHILD_TYPES) },
  function: runCheckAgentAvailability,
});

export const availabilityOnAvailableNode = childNodeDescriptor({
  type: AVAILABILITY_CHILD_TYPES.available,
  parentType: AVAILABILITY_NODE_TYPE,
  label: 'On Available',
  color: '#2E9E5B',
});
export const availabilityOnUnavailableNode = childNodeDescriptor({
  type: AVAILABILITY_CHILD_TYPES.unavailable,
  parentType: AVAILABILITY_NODE_TYPE,
  label: 'On Unavailable',
  color: '#8A8F98',
});
export const availabilityOnErrorNode = childNodeDescriptor({
  type: AVAILABILITY_CHILD_TYPES.error,
  parentType: AVAILABILITY_NODE_TYPE,
  label: 'On Error',
  color: '#D64545',
});

export const checkAgentAvailabilityNodes = [
  checkAgentAvailabilityNode,
  availabilityOnAvailableNode,
  availabilityOnUnavailableNode,
  availabilityOnErrorNode,
];

type AvailabilityConfig = z.output<typeof availabilityConfigSchema>;

/** The schedule's verdict now, or null when business hours are off. */
function businessHoursNow(config: AvailabilityConfig, now: Date): (BusinessHoursVerdict & { timeZone: string }) | null {
  if (!config.useBusinessHours) return null;
  try {
    const hours = parseBusinessHours({
      timeZone: config.timeZone,
      weeklyHours: config.weeklyHours ?? DEFAULT_WEEKLY_HOURS,
      closedDates: config.closedDates,
    });
    return { ...checkBusinessHours(hours, now), timeZone: hours.timeZone };
  } catch (error) {
    if (error instanceof BusinessHoursError) throw new NodeInputError('invalid_business_hours', error.message);
    throw error;
  }
}

async function runCheckAgentAvailability(params: INodeFunctionBaseParams): Promise<void> {
  const { cognigy, childConfigs } = params;
  const api: NodeApi = cognigy.api;
  const config = readConfig(availabilityConfigSchema, params.config);
  const key = config.storeLocation === 'input' ? config.inputKey : config.contextKey;
  const finish = (stored: StoredAvailability): void => {
    storeResult(api, config.storeLocation, key, stored);
    routeToChild(api, childConfigs, stored.available ? AVAILABILITY_CHILD_TYPES.available : AVAILABILITY_CHILD_TYPES.unavailable);
  };
  try {
    const now = new Date();
    const verdict = businessHoursNow(config, now);
    const businessHours = verdict
      ? {
          open: verdict.open,
          localDate: verdict.localDate,
          localTime: verdict.localTime,
          weekday: verdict.weekday,
          timeZone: verdict.timeZone,
        }
      : undefined;
    if (verdict && !verdict.open) {
      // Outside the hours Engage is not asked: no REST budget spent on a known answer.
      const reason = verdict.reason === 'closed_date' ? 'closed_date' : 'outside_business_hours';
      finish({
        available: false,
        reason,
        availableAgents: null,
        checkedAt: now.toISOString(),
        ...(businessHours ? { businessHours } : {}),
      });
      return;
    }
    const result = await agentAvailability(
      { connection: parseConnection(config.connection), session: sessionFromInput(cognigy.input), inputId: cognigy.input.inputId },
      config.categoryIds.length > 0 ? { categoryIds: config.categoryIds.slice(0, 20) } : {},
    );
    finish({
      available: result.available,
      reason: result.available ? 'agents_available' : 'no_agents_available',
      availableAgents: result.availableAgents,
      checkedAt: result.checkedAt,
      ...(businessHours ? { businessHours } : {}),
    });
  } catch (error) {
    const info = toNodeError(error);
    api.log?.('error', `${LOG_PREFIX} ${AVAILABILITY_NODE_TYPE}: could not check agent availability: ${info.code}: ${info.message}`);
    storeResult(api, config.storeLocation, key, { error: { code: info.code, message: info.message }, checkedAt: nowIso() });
    routeToChild(api, childConfigs, AVAILABILITY_CHILD_TYPES.error);
  }
}

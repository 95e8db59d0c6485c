import type { INodeDescriptor } from '@cognigy/extension-tools';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import extension from '../../extension/src/module';
import { CONNECTION_FIELD_NAMES, CONNECTION_TYPE, connectionFieldHelp } from '../../extension/src/connection';
import { HANDOVER_CHILD_TYPES } from '../../extension/src/handoverLogic';
import { DEFAULT_QUEUE_MESSAGE } from '../../extension/src/nodes/handoverToRce';
import { MIRROR_NODE_TYPE } from '../../extension/src/nodes/mirrorToRce';

// Field types extension-tools 0.14 accepts.
const FIELD_TYPES_014 = new Set([
  'text',
  'rule',
  'json',
  'checkbox',
  'time',
  'date',
  'datetime',
  'select',
  'typescript',
  'xml',
  'textArray',
  'chipInput',
  'cognigyText',
  'toggle',
  'slider',
  'number',
  'daterange',
  'connection',
  'say',
  'condition',
]);

const byType = new Map(extension.nodes.map((n) => [n.type, n]));
const parents = extension.nodes.filter((n) => !n.parentType);
const children = extension.nodes.filter((n) => n.parentType);
function node(type: string): INodeDescriptor {
  const found = byType.get(type);
  if (!found) throw new Error(`no node ${type}`);
  return found;
}
function field(type: string, key: string) {
  const found = node(type).fields?.find((f) => f.key === key);
  if (!found) throw new Error(`no field ${key} on ${type}`);
  return found;
}

describe('extension descriptors', () => {
  it('exports the six nodes with their branches and the display label', () => {
    expect(parents.map((n) => n.type).sort()).toEqual([
      'checkAgentAvailability',
      'closeRceHandover',
      'getQueueStatus',
      'handoverToRce',
      'mirrorToRce',
      'sendProfile',
    ]);
    expect(children.map((n) => n.type).sort()).toEqual(
      [
        'getQueueStatusOnError',
        'getQueueStatusOnSuccess',
        'onAgentJoined',
        'onCancel',
        'onError',
        'onLongWait',
        'onQueueUpdate',
        'onReturnToBot',
        'onTransfer',
        'onWhileWaiting',
        'checkAgentAvailabilityOnAvailable',
        'checkAgentAvailabilityOnUnavailable',
        'checkAgentAvailabilityOnError',
        'closeRceHandoverOnClosed',
        'closeRceHandoverOnNotRunning',
        'closeRceHandoverOnError',
        'sendProfileOnError',
        'sendProfileOnSuccess',
      ].sort(),
    );
    expect(extension.options.label).toBe('RingCentral Engage Handover');
  });

  it('uses every node type once', () => {
    const types = extension.nodes.map((n) => n.type);
    expect(new Set(types).size).toBe(types.length);
  });

  it('gives the Handover node exactly the documented branches', () => {
    expect(node('handoverToRce').dependencies?.children).toEqual([
      'onQueueUpdate',
      'onAgentJoined',
      'onReturnToBot',
      'onCancel',
      'onError',
      'onLongWait',
      'onTransfer',
      'onWhileWaiting',
    ]);
    expect(Object.values(HANDOVER_CHILD_TYPES)).toEqual(node('handoverToRce').dependencies?.children);
  });

  it('declares every branch as a fixed mini child of its parent', () => {
    for (const parent of parents) {
      for (const childType of parent.dependencies?.children ?? []) {
        const child = node(childType);
        expect(child.parentType).toBe(parent.type);
        expect(child.appearance.variant).toBe('mini');
        expect(child.constraints).toMatchObject({ editable: false, deletable: false, creatable: false, movable: false });
        expect(child.constraints?.placement.predecessor?.whitelist).toEqual([]);
        expect(child.function).toBeNull();
      }
    }
    for (const child of children) expect(node(child.parentType!).dependencies?.children).toContain(child.type);
  });

  it('makes only the Handover node an entry point', () => {
    expect(node('handoverToRce').behavior?.entrypoint).toBe(true);
    expect(node('getQueueStatus').behavior?.entrypoint).toBe(false);
    expect(node('sendProfile').behavior?.entrypoint).toBe(false);
    expect(node('mirrorToRce').behavior?.entrypoint).toBe(false);
    expect(node('checkAgentAvailability').behavior?.entrypoint).toBe(false);
    expect(node('closeRceHandover').behavior?.entrypoint).toBe(false);
  });

  it('groups every field in exactly one section and renders every section', () => {
    for (const parent of parents) {
      const fieldKeys = (parent.fields ?? []).map((f) => f.key);
      const sectionKeys = (parent.sections ?? []).map((s) => s.key);
      const sectioned = (parent.sections ?? []).flatMap((s) => s.fields);
      expect(new Set(fieldKeys).size).toBe(fieldKeys.length);
      for (const key of sectioned) expect(fieldKeys).toContain(key);
      expect([...sectioned].sort()).toEqual([...fieldKeys].sort());
      for (const item of parent.form ?? []) {
        if (item.type === 'section') expect(sectionKeys).toContain(item.key);
        else expect(fieldKeys).toContain(item.key);
      }
      expect(
        (parent.form ?? [])
          .filter((f) => f.type === 'section')
          .map((f) => f.key)
          .sort(),
      ).toEqual([...sectionKeys].sort());
    }
  });

  it('uses only 0.14 field types, labels every field and keeps conditions on existing fields', () => {
    for (const parent of parents) {
      const keys = new Set((parent.fields ?? []).map((f) => f.key));
      for (const f of parent.fields ?? []) {
        expect(FIELD_TYPES_014.has(f.type)).toBe(true);
        expect(f.label).toBeTruthy();
        const condition = f.condition as { key?: string } | undefined;
        if (condition?.key) expect(keys.has(condition.key)).toBe(true);
      }
    }
  });

  it('asks for the RCE connection in every node', () => {
    for (const parent of parents) {
      const connection = parent.fields?.find((f) => f.type === 'connection');
      expect(connection?.key).toBe('connection');
      expect(connection?.params).toEqual({ connectionType: CONNECTION_TYPE, required: true });
    }
  });

  it('has the seed fields in order on the connection, each with label and help', () => {
    expect(extension.connections).toHaveLength(1);
    const [connection] = extension.connections;
    expect(connection?.type).toBe('rce-handover');
    expect(connection?.label).toBe('RingCentral Engage (RCE) Handover');
    expect(connection?.fields.map((f) => f.fieldName)).toEqual([
      'apiAccessToken',
      'botCategoryId',
      'agentCategoryId',
      'realtimeAccessToken',
      'realtimeEndpointUrl',
      'webhookSecret',
      'baseApiUrl',
      'relayUrl',
      'relayApiKey',
    ]);
    expect(CONNECTION_FIELD_NAMES.map((name) => connectionFieldHelp[name].label)).toEqual([
      'API Access Token',
      'Bot Category ID',
      'Agent Category ID',
      'Realtime Access Token',
      'Realtime Endpoint URL',
      'Webhook Secret',
      'Base API URL',
      'Relay URL',
      'Relay API Key',
    ]);
    for (const name of CONNECTION_FIELD_NAMES) expect(connectionFieldHelp[name].help.length).toBeGreaterThan(20);
  });

  it('ships sensible defaults on the Handover node', () => {
    expect(field('handoverToRce', 'firstMessage').defaultValue).toBe('The customer asked for a human agent.');
    expect(field('handoverToRce', 'useCognigyProfile').defaultValue).toBe(true);
    expect(field('handoverToRce', 'forwardOnlyHandoverConversations').defaultValue).toBe(true);
    expect(field('handoverToRce', 'getQueueUpdates').defaultValue).toBe(true);
    expect(field('handoverToRce', 'queueMessageTemplate').defaultValue).toBe(DEFAULT_QUEUE_MESSAGE);
    expect(field('handoverToRce', 'cancelPhrases').defaultValue).toEqual(['cancel', 'stop']);
    expect(field('handoverToRce', 'contextKey').defaultValue).toBe('rceHandover');
    expect(field('handoverToRce', 'transcript').type).toBe('json');
    expect(field('handoverToRce', 'firstMessage').type).toBe('cognigyText');
    expect(field('handoverToRce', 'cancelPhrases').type).toBe('textArray');
    expect(node('handoverToRce').sections?.map((s) => s.label)).toEqual([
      'Connection',
      'Handover',
      'Contact profile',
      'Options',
      'Live chat',
      'Storage',
      'RingCentral Engage Settings',
    ]);
  });

  it('tells bot builders the mandatory placement: Set Entrypoint and the Flow-start guard', () => {
    const summary = String(node('handoverToRce').summary);
    expect(summary).toContain('"Set Entrypoint"');
    expect(summary).toContain('first node of the Flow an If "{{context.rceHandover.active}}"');
    expect(summary).toContain('Go To to this node (Execution Mode: continue)');
    expect(String(field('handoverToRce', 'contextKey').description)).toContain('Go To this node');
  });

  it('gives Mirror to RCE no branches, sensible defaults and the "Forward Only" hint', () => {
    const mirror = node(MIRROR_NODE_TYPE);
    expect(mirror.defaultLabel).toBe('Mirror to RCE');
    expect(mirror.dependencies?.children ?? []).toEqual([]);
    expect(children.filter((c) => c.parentType === MIRROR_NODE_TYPE)).toEqual([]);
    expect((mirror.fields ?? []).map((f) => f.key)).toEqual(['connection', 'mirrorUserInput', 'botText', 'botData', 'contextKey']);
    expect(field(MIRROR_NODE_TYPE, 'botData')).toMatchObject({ type: 'json', defaultValue: {} });
    expect(field(MIRROR_NODE_TYPE, 'mirrorUserInput')).toMatchObject({ type: 'toggle', defaultValue: true });
    expect(field(MIRROR_NODE_TYPE, 'botText')).toMatchObject({ type: 'cognigyText', defaultValue: '' });
    // The same default key as the Handover node, so both read the same state.
    expect(field(MIRROR_NODE_TYPE, 'contextKey').defaultValue).toBe(field('handoverToRce', 'contextKey').defaultValue);
    expect(mirror.sections?.map((s) => s.label)).toEqual(['Connection', 'Mirror', 'Storage']);
    expect(String(mirror.summary)).toContain('Only needed when "Forward Only Handover Conversations" is off');
    expect(String(mirror.summary)).toContain('Handover to RCE node too');
    expect(String(field('handoverToRce', 'forwardOnlyHandoverConversations').description)).toContain('Mirror to RCE');
  });

  it('gives the Handover node the live-chat fields of issue 16 with defaults that keep the old behaviour', () => {
    expect(field('handoverToRce', 'cancelDuringLiveChat')).toMatchObject({ type: 'toggle', defaultValue: false });
    expect(field('handoverToRce', 'longWaitMinutes')).toMatchObject({ type: 'number', defaultValue: 0 });
    expect(field('handoverToRce', 'longWaitPosition')).toMatchObject({ type: 'number', defaultValue: 0 });
    expect(field('handoverToRce', 'transferBranch')).toMatchObject({ type: 'toggle', defaultValue: false });
    expect(field('handoverToRce', 'inactivityTimeoutMinutes')).toMatchObject({ type: 'number', defaultValue: 0 });
    expect(field('handoverToRce', 'inactivityCloses').condition).toEqual({ key: 'inactivityTimeoutMinutes', value: 0, negate: true });
    expect(field('handoverToRce', 'userLeftNotice').defaultValue).toBe('The customer left the conversation.');
    expect(field('handoverToRce', 'userBackNotice').defaultValue).toBe('The customer is back in the conversation.');
    expect(String(field('handoverToRce', 'queueMessageTemplate').description)).toContain('{wait}');
  });

  it("gives Check RCE Agent Availability its three branches, a business-hours schedule and input storage like Cognigy's own node", () => {
    const availability = node('checkAgentAvailability');
    expect(availability.defaultLabel).toBe('Check RCE Agent Availability');
    expect(availability.dependencies?.children).toEqual([
      'checkAgentAvailabilityOnAvailable',
      'checkAgentAvailabilityOnUnavailable',
      'checkAgentAvailabilityOnError',
    ]);
    expect(children.filter((c) => c.parentType === 'checkAgentAvailability').map((c) => c.defaultLabel)).toEqual([
      'On Available',
      'On Unavailable',
      'On Error',
    ]);
    expect(field('checkAgentAvailability', 'useBusinessHours')).toMatchObject({ type: 'toggle', defaultValue: false });
    expect(field('checkAgentAvailability', 'timeZone')).toMatchObject({
      type: 'cognigyText',
      defaultValue: 'UTC',
      condition: { key: 'useBusinessHours', value: true },
    });
    expect(field('checkAgentAvailability', 'weeklyHours')).toMatchObject({
      type: 'json',
      defaultValue: { mon: '09:00-17:00', sat: null, sun: null },
    });
    expect(field('checkAgentAvailability', 'closedDates')).toMatchObject({ type: 'textArray', defaultValue: [] });
    expect(field('checkAgentAvailability', 'storeLocation').defaultValue).toBe('input');
    expect(field('checkAgentAvailability', 'inputKey').defaultValue).toBe('rceAvailability');
    expect(String(availability.summary)).toContain('before "Handover to RCE"');
  });

  it("gives Close RCE Handover its three branches and the Handover node's state key", () => {
    const close = node('closeRceHandover');
    expect(close.defaultLabel).toBe('Close RCE Handover');
    expect(children.filter((c) => c.parentType === 'closeRceHandover').map((c) => c.defaultLabel)).toEqual([
      'On Closed',
      'On Not Running',
      'On Error',
    ]);
    expect(field('closeRceHandover', 'reason')).toMatchObject({ type: 'cognigyText', defaultValue: 'closed_by_flow' });
    expect(field('closeRceHandover', 'contextKey').defaultValue).toBe(field('handoverToRce', 'contextKey').defaultValue);
  });

  it('stores the queue status in the context by default', () => {
    expect(field('getQueueStatus', 'storeLocation').defaultValue).toBe('context');
    expect(field('getQueueStatus', 'contextKey').defaultValue).toBe('rceQueue');
    expect(field('getQueueStatus', 'inputKey').condition).toEqual({ key: 'storeLocation', value: 'input' });
  });

  it('documents every connection field, node, branch and field key in the README', () => {
    const readme = readFileSync(join(__dirname, '../../extension/README.md'), 'utf8');
    for (const name of CONNECTION_FIELD_NAMES) {
      expect(readme).toContain(`| **${connectionFieldHelp[name].label}** | \`${name}\` |`);
      expect(readme).toContain(connectionFieldHelp[name].help);
    }
    for (const n of extension.nodes) expect(readme).toContain(`\`${n.type}\``);
    for (const parent of parents) {
      expect(readme).toContain(`## Node: ${String(parent.defaultLabel)}`);
      for (const f of parent.fields ?? []) expect(readme).toContain(`\`${f.key}\``);
    }
  });
});

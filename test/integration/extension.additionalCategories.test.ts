import extension from '../../extension/src/module';
import { handoverToRceNode } from '../../extension/src/nodes/handoverToRce';
import { FlowRunner, placeNode, type Flow } from '../../sandbox/cognigy/flowRunner';
import { useFrontedRig } from '../helpers/relayRig';

/** The node's "Additional Category IDs" (Cognigy's built-in handover has it) reaches the relay's start request. */
function flowWith(config: Record<string, unknown>): Flow {
  return { nodes: [...placeNode(handoverToRceNode, { id: 'handover', config: { connection: 'rce', ...config }, branches: {} })] };
}

describe('Handover to RCE: Additional Category IDs', () => {
  const relay = useFrontedRig('standIn');

  it('is in its own collapsed section, empty by default, like the built-in provider', () => {
    const field = handoverToRceNode.fields?.find((f) => f.key === 'additionalCategoryIds');
    expect(field).toMatchObject({ type: 'textArray', label: 'Additional Category IDs', defaultValue: [] });
    expect(handoverToRceNode.sections?.find((s) => s.key === 'engageSettings')).toMatchObject({
      defaultCollapsed: true,
      fields: ['additionalCategoryIds'],
    });
    expect(handoverToRceNode.form?.some((f) => f.type === 'section' && f.key === 'engageSettings')).toBe(true);
  });

  it('sends the ids trimmed and without duplicates, and nothing when the list is empty', async () => {
    const withIds = new FlowRunner({
      flow: flowWith({ additionalCategoryIds: [' 5f1c00000000000000000e02 ', '', '5f1c00000000000000000e02', '5f1c00000000000000000e03'] }),
      extension,
      connections: { rce: relay.connection },
    });
    await withIds.send({ URLToken: 't', userId: 'u1', sessionId: 's1' }, { text: 'agent' });
    expect(relay.requestsFor('startHandover')[0]?.body).toMatchObject({
      additionalCategoryIds: ['5f1c00000000000000000e02', '5f1c00000000000000000e03'],
    });

    const without = new FlowRunner({ flow: flowWith({}), extension, connections: { rce: relay.connection } });
    await without.send({ URLToken: 't', userId: 'u2', sessionId: 's2' }, { text: 'agent' });
    expect(relay.requestsFor('startHandover')[1]?.body).not.toHaveProperty('additionalCategoryIds');
  });
});

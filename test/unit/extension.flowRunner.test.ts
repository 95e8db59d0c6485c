import { createNodeDescriptor, type INodeDescriptor, type INodeFunctionBaseParams } from '@cognigy/extension-tools';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { FlowRunner, placeNode, type Flow } from '../../sandbox/cognigy/flowRunner';

/**
 * The runner must behave like Cognigy for our nodes to be tested faithfully: re-entry,
 * branches that continue after their parent, CognigyScript, limits.
 */

const session = { URLToken: 'tok', userId: 'u1', sessionId: 's1' };

type Fn = (p: INodeFunctionBaseParams) => Promise<void>;
function parent(type: string, fn: Fn, opts: { entrypoint?: boolean; fields?: INodeDescriptor['fields'] } = {}): INodeDescriptor[] {
  return [
    createNodeDescriptor({
      type,
      defaultLabel: type,
      behavior: { entrypoint: opts.entrypoint ?? false },
      fields: opts.fields ?? [],
      dependencies: { children: [`${type}A`, `${type}B`] },
      function: fn,
    }),
    createNodeDescriptor({ type: `${type}A`, parentType: type, defaultLabel: 'A' }),
    createNodeDescriptor({ type: `${type}B`, parentType: type, defaultLabel: 'B' }),
  ];
}
const child = (p: INodeFunctionBaseParams, type: string): string => p.childConfigs.find((c) => c.type === type)!.id;

describe('FlowRunner', () => {
  it('runs built-in nodes with CognigyScript and follows next', async () => {
    const flow: Flow = {
      nodes: [
        { id: 'set', type: 'setContext', config: { key: 'name', value: '{{input.data.name}}' }, next: 'say' },
        { id: 'say', type: 'say', config: { text: 'Hi {{context.name}}, you said "{{input.text}}" {{context.missing}}!' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: [] });
    const turn = await runner.send(session, { text: 'hello', data: { name: 'Ada' } });
    expect(turn.outputs.map((o) => o.text)).toEqual(['Hi Ada, you said "hello" !']);
    expect(runner.session(session).context.name).toBe('Ada');
  });

  it('runs a branch now and then continues after the parent', async () => {
    const nodes = parent('router', async ({ cognigy, ...p }) => {
      cognigy.api.setNextNode!(child(p as INodeFunctionBaseParams, cognigy.input.text === 'a' ? 'routerA' : 'routerB'));
    });
    const flow: Flow = {
      nodes: [
        ...placeNode(nodes[0]!, {
          id: 'r',
          next: 'after',
          branches: { routerA: [{ type: 'say', config: { text: 'branch A' } }, { type: 'say', config: { text: 'A again' } }], routerB: [{ type: 'say', config: { text: 'branch B' } }] },
        }),
        { id: 'after', type: 'say', config: { text: 'after' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: nodes });
    expect((await runner.send(session, { text: 'a' })).outputs.map((o) => o.text)).toEqual(['branch A', 'A again', 'after']);
    expect((await runner.send(session, { text: 'b' })).outputs.map((o) => o.text)).toEqual(['branch B', 'after']);
  });

  it('re-enters an entrypoint node after setNextNode(itself) + stopExecution, and only then', async () => {
    const waiting: Fn = async ({ cognigy, nodeId }) => {
      cognigy.api.say!(`seen ${cognigy.input.text}`);
      if (cognigy.input.text !== 'done') {
        cognigy.api.setNextNode!(nodeId);
        cognigy.api.stopExecution!();
      }
    };
    const make = (entrypoint: boolean) => {
      const nodes = parent('wait', waiting, { entrypoint });
      const flow: Flow = { nodes: [{ id: 'start', type: 'say', config: { text: 'start' }, next: 'w' }, ...placeNode(nodes[0]!, { id: 'w' })] };
      return new FlowRunner({ flow, extension: nodes });
    };
    const entry = make(true);
    expect((await entry.send(session, { text: 'one' })).nextEntry).toBe('w');
    expect((await entry.send(session, { text: 'two' })).outputs.map((o) => o.text)).toEqual(['seen two']);
    const finished = await entry.send(session, { text: 'done' });
    expect(finished.nextEntry).toBeNull();
    expect((await entry.send(session, { text: 'again' })).outputs.map((o) => o.text)).toEqual(['start', 'seen again']);

    const plain = make(false);
    await plain.send(session, { text: 'one' });
    expect((await plain.send(session, { text: 'two' })).outputs.map((o) => o.text)).toEqual(['start', 'seen two']);
  });

  it('keeps an entrypoint node as entry while one of its branches runs', async () => {
    const nodes = parent(
      'hold',
      async ({ cognigy, nodeId, childConfigs }) => {
        cognigy.api.setNextNode!(nodeId);
        cognigy.api.setNextNode!(childConfigs.find((c) => c.type === 'holdA')!.id);
      },
      { entrypoint: true },
    );
    const flow: Flow = { nodes: [...placeNode(nodes[0]!, { id: 'h', next: 'tail', branches: { holdA: [{ type: 'say', config: { text: 'in branch' } }] } }), { id: 'tail', type: 'say', config: { text: 'tail' } }] };
    const runner = new FlowRunner({ flow, extension: nodes });
    const turn = await runner.send(session, { text: 'x' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['in branch', 'tail']);
    expect(turn.nextEntry).toBe('h');
  });

  it('models the Flow-start guard with goToIf', async () => {
    const flow: Flow = {
      nodes: [
        { id: 'guard', type: 'goToIf', config: { value: '{{context.busy}}', target: 'busy' }, next: 'idle' },
        { id: 'idle', type: 'say', config: { text: 'idle' } },
        { id: 'busy', type: 'say', config: { text: 'busy' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: [] });
    expect((await runner.send(session, { text: '' })).outputs.map((o) => o.text)).toEqual(['idle']);
    runner.session(session).context.busy = true;
    expect((await runner.send(session, { text: '' })).outputs.map((o) => o.text)).toEqual(['busy']);
  });

  it('applies field defaults, resolves connections and keeps types in JSON fields', async () => {
    let seen: Record<string, unknown> = {};
    const nodes = parent(
      'cfg',
      async ({ config }) => {
        seen = config as Record<string, unknown>;
      },
      {
        fields: [
          { key: 'connection', type: 'connection', label: 'c' },
          { key: 'greeting', type: 'cognigyText', label: 'g', defaultValue: 'Hello {{profile.firstname}}' },
          { key: 'list', type: 'json', label: 'l', defaultValue: '{{context.items}}' },
          { key: 'flag', type: 'toggle', label: 'f', defaultValue: true },
          { key: 'raw', type: 'toggle', label: 'r', defaultValue: '{{context.items}}' },
        ],
      },
    );
    const flow: Flow = { nodes: placeNode(nodes[0]!, { id: 'c', config: { connection: 'main', flag: false } }) };
    const runner = new FlowRunner({ flow, extension: nodes, connections: { main: { relayUrl: 'https://r.example.com' } }, defaultProfile: { firstname: 'Ada' } });
    runner.session(session).context.items = [{ a: 1 }];
    await runner.send(session, { text: '' });
    expect(seen).toEqual({ connection: { relayUrl: 'https://r.example.com' }, greeting: 'Hello Ada', list: [{ a: 1 }], flag: false, raw: '{{context.items}}' });
  });

  it('records a node that throws or runs too long, and stops the Flow', async () => {
    const nodes = [
      ...parent('boom', async () => {
        throw new Error('secret detail');
      }),
      ...parent('slow', () => new Promise<void>((resolve) => setTimeout(resolve, 500))),
    ];
    const flow: Flow = { nodes: [...placeNode(nodes[0]!, { id: 'b', next: 'after' }), { id: 'after', type: 'say', config: { text: 'never' } }] };
    const runner = new FlowRunner({ flow, extension: nodes });
    const turn = await runner.send(session, { text: '' });
    expect(turn.outputs).toEqual([]);
    expect(turn.executions[0]?.failure).toBe('threw Error');
    expect(turn.logs.some((l) => l.level === 'error' && l.nodeId === 'b')).toBe(true);

    const slowRunner = new FlowRunner({ flow: { nodes: placeNode(nodes[3]!, { id: 's' }) }, extension: nodes, nodeTimeoutMs: 50 });
    const slowTurn = await slowRunner.send(session, { text: '' });
    expect(slowTurn.executions[0]?.failure).toContain('time limit');
  });

  it('counts outbound HTTP calls per node execution and flags more than allowed', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const nodes = parent('caller', async ({ cognigy }) => {
        const n = Number(cognigy.input.text);
        for (let i = 0; i < n; i += 1) await fetch(url).then((r) => r.text());
        await new Promise<void>((resolve) => http.get(url, (res) => res.resume().on('end', resolve)));
      });
      const runner = new FlowRunner({ flow: { nodes: placeNode(nodes[0]!, { id: 'c' }) }, extension: nodes, maxHttpCallsPerExecution: 2 });
      expect((await runner.send(session, { text: '0' })).executions[0]?.httpCalls).toBe(1);
      const busy = await runner.send(session, { text: '2' });
      expect(busy.executions[0]?.httpCalls).toBe(3);
      expect(busy.logs.some((l) => l.level === 'error' && l.message.includes('3 HTTP calls'))).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('runs the inputs of one session one after another', async () => {
    const order: string[] = [];
    const nodes = parent('slowEcho', async ({ cognigy }) => {
      order.push(`start ${cognigy.input.text}`);
      await new Promise((r) => setTimeout(r, cognigy.input.text === 'first' ? 50 : 0));
      order.push(`end ${cognigy.input.text}`);
    });
    const runner = new FlowRunner({ flow: { nodes: placeNode(nodes[0]!, { id: 'e' }) }, extension: nodes });
    await Promise.all([runner.send(session, { text: 'first' }), runner.send(session, { text: 'second' })]);
    expect(order).toEqual(['start first', 'end first', 'start second', 'end second']);
  });

  it('rejects Flows that reference unknown types, children or nodes', () => {
    expect(() => new FlowRunner({ flow: { nodes: [{ id: 'x', type: 'nope' }] }, extension: [] })).toThrow('unknown type');
    expect(() => new FlowRunner({ flow: { nodes: [{ id: 'x', type: 'say', next: 'y' }] }, extension: [] })).toThrow('does not exist');
    const nodes = parent('p', async () => undefined);
    expect(() => new FlowRunner({ flow: { nodes: [{ id: 'x', type: 'p', children: [{ id: 'c', type: 'say' }] }] }, extension: nodes })).toThrow('not a child type');
  });
});

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
          branches: {
            routerA: [
              { type: 'say', config: { text: 'branch A' } },
              { type: 'say', config: { text: 'A again' } },
            ],
            routerB: [{ type: 'say', config: { text: 'branch B' } }],
          },
        }),
        { id: 'after', type: 'say', config: { text: 'after' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: nodes });
    expect((await runner.send(session, { text: 'a' })).outputs.map((o) => o.text)).toEqual(['branch A', 'A again', 'after']);
    expect((await runner.send(session, { text: 'b' })).outputs.map((o) => o.text)).toEqual(['branch B', 'after']);
  });

  it('waits for input at the node set by setNextNode + stopExecution; no entrypoint flag needed', async () => {
    const waiting: Fn = async ({ cognigy, nodeId }) => {
      cognigy.api.say!(`seen ${cognigy.input.text}`);
      if (cognigy.input.text !== 'done') {
        cognigy.api.setNextNode!(nodeId);
        cognigy.api.stopExecution!();
      }
    };
    const nodes = parent('wait', waiting);
    const flow: Flow = {
      nodes: [{ id: 'start', type: 'say', config: { text: 'start' }, next: 'w' }, ...placeNode(nodes[0]!, { id: 'w' })],
    };
    const runner = new FlowRunner({ flow, extension: nodes });
    expect((await runner.send(session, { text: 'one' })).nextEntry).toBe('w');
    expect((await runner.send(session, { text: 'two' })).outputs.map((o) => o.text)).toEqual(['seen two']);
    const finished = await runner.send(session, { text: 'done' });
    expect(finished.nextEntry).toBeNull();
    expect((await runner.send(session, { text: 'again' })).outputs.map((o) => o.text)).toEqual(['start', 'seen again']);
  });

  it('lets the last setNextNode win: self, then a branch, then stopExecution waits at the branch', async () => {
    const nodes = parent(
      'hold',
      async ({ cognigy, nodeId, childConfigs }) => {
        cognigy.api.say!(`hold saw ${cognigy.input.text}`);
        cognigy.api.setNextNode!(nodeId);
        if (cognigy.input.text === 'branch') cognigy.api.setNextNode!(childConfigs.find((c) => c.type === 'holdA')!.id);
        cognigy.api.stopExecution!();
      },
      { entrypoint: true },
    );
    const flow: Flow = {
      nodes: [
        { id: 'start', type: 'say', config: { text: 'start' }, next: 'h' },
        ...placeNode(nodes[0]!, { id: 'h', branches: { holdA: [{ type: 'say', config: { text: 'in branch' } }] } }),
      ],
    };
    const runner = new FlowRunner({ flow, extension: nodes });
    expect((await runner.send(session, { text: 'x' })).nextEntry).toBe('h');
    // stopExecution after routing to the branch: the branch is where the next input starts.
    const routed = await runner.send(session, { text: 'branch' });
    expect(routed.outputs.map((o) => o.text)).toEqual(['hold saw branch']);
    expect(routed.nextEntry).toBe('h/holdA');
  });

  it('forgets the node when its branch chain simply ends (even a descriptor marked entrypoint)', async () => {
    const nodes = parent(
      'hold',
      async ({ cognigy, nodeId, childConfigs }) => {
        cognigy.api.setNextNode!(nodeId);
        cognigy.api.setNextNode!(childConfigs.find((c) => c.type === 'holdA')!.id);
      },
      { entrypoint: true },
    );
    const flow: Flow = {
      nodes: [
        { id: 'start', type: 'say', config: { text: 'start' }, next: 'h' },
        ...placeNode(nodes[0]!, { id: 'h', next: 'tail', branches: { holdA: [{ type: 'say', config: { text: 'in branch' } }] } }),
        { id: 'tail', type: 'say', config: { text: 'tail' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: nodes });
    const turn = await runner.send(session, { text: 'x' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['start', 'in branch', 'tail']);
    expect(turn.nextEntry).toBeNull();
    expect((await runner.send(session, { text: 'y' })).outputs[0]?.text).toBe('start');
  });

  it('with the "stack" model, runs a branch and then the node pushed before it, on the same input', async () => {
    const runs: string[] = [];
    const nodes = parent('hold', async ({ cognigy, nodeId, childConfigs }) => {
      runs.push(String(cognigy.input.inputId));
      const again = runs.filter((r) => r === cognigy.input.inputId).length > 1;
      cognigy.api.setNextNode!(nodeId);
      if (again) cognigy.api.stopExecution!();
      else cognigy.api.setNextNode!(childConfigs.find((c) => c.type === 'holdA')!.id);
    });
    const flow: Flow = {
      nodes: [
        { id: 'start', type: 'say', config: { text: 'start' }, next: 'h' },
        ...placeNode(nodes[0]!, { id: 'h', branches: { holdA: [{ type: 'say', config: { text: 'in branch' } }] } }),
      ],
    };
    const runner = new FlowRunner({ flow, extension: nodes, nextNodeModel: 'stack' });
    const turn = await runner.send(session, { text: 'x' }, { inputId: 'in-1' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['start', 'in branch']);
    expect(turn.executions.map((e) => e.nodeId)).toEqual(['h', 'h']);
    expect(turn.nextEntry).toBe('h');
    expect(runs).toEqual(['in-1', 'in-1']);
  });

  it('models the Flow-start guard with goToIf (If + Go To, continue)', async () => {
    const flow: Flow = {
      nodes: [
        { id: 'guard', type: 'goToIf', config: { value: '{{context.busy}}', target: 'busy' }, next: 'idle' },
        { id: 'idle', type: 'say', config: { text: 'idle' } },
        { id: 'busy', type: 'say', entrypoint: true, config: { text: 'busy {{input.text}}' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: [] });
    expect((await runner.send(session, { text: 'a' })).outputs.map((o) => o.text)).toEqual(['idle']);
    runner.session(session).context.busy = true;
    expect((await runner.send(session, { text: 'b' })).outputs.map((o) => o.text)).toEqual(['busy b']);
  });

  it('models an If on the text, optionally and-ed with a CognigyScript value (ifTextMatches with "when")', async () => {
    const flow: Flow = {
      nodes: [
        { id: 'if', type: 'ifTextMatches', config: { pattern: '^call me back$', when: '{{context.offered}}', target: 'yes' }, next: 'no' },
        { id: 'no', type: 'say', config: { text: 'no' } },
        { id: 'yes', type: 'say', config: { text: 'yes' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: [] });
    expect((await runner.send(session, { text: 'Call me back' })).outputs.map((o) => o.text)).toEqual(['no']);
    runner.session(session).context.offered = true;
    expect((await runner.send(session, { text: 'Call me back' })).outputs.map((o) => o.text)).toEqual(['yes']);
    expect((await runner.send(session, { text: 'call me back later' })).outputs.map((o) => o.text)).toEqual(['no']);
  });

  it('Go To "wait" makes the target the entry of the next input; "continue" runs it with the same input', async () => {
    const flow: Flow = {
      nodes: [
        { id: 'first', type: 'say', config: { text: 'first {{input.text}}' }, next: 'jump' },
        { id: 'jump', type: 'goTo', config: { target: 'target', mode: 'wait' }, next: 'never' },
        { id: 'never', type: 'say', config: { text: 'never' } },
        { id: 'target', type: 'say', entrypoint: true, config: { text: 'target {{input.text}}' }, next: 'again' },
        { id: 'again', type: 'goTo', config: { target: 'end' } },
        { id: 'end', type: 'say', entrypoint: true, config: { text: 'end {{input.text}}' } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: [] });
    const waited = await runner.send(session, { text: '1' });
    expect(waited.outputs.map((o) => o.text)).toEqual(['first 1']);
    expect(waited.nextEntry).toBe('target');
    const continued = await runner.send(session, { text: '2' });
    expect(continued.outputs.map((o) => o.text)).toEqual(['target 2', 'end 2']);
    expect(continued.nextEntry).toBeNull();
  });

  it('refuses a Go To whose target is not marked Set Entrypoint, or an unknown mode', () => {
    const say = { id: 't', type: 'say', config: { text: 't' } };
    expect(() => new FlowRunner({ flow: { nodes: [{ id: 'g', type: 'goTo', config: { target: 't' } }, say] }, extension: [] })).toThrow(
      'not marked Set Entrypoint',
    );
    expect(
      () =>
        new FlowRunner({
          flow: {
            nodes: [
              { id: 'g', type: 'goTo', config: { target: 't', mode: 'later' } },
              { ...say, entrypoint: true },
            ],
          },
          extension: [],
        }),
    ).toThrow('"continue" or "wait"');
  });

  it('stops a Flow after 4 Go To activations without an input (infinite loop protection)', async () => {
    const flow: Flow = {
      nodes: [
        { id: 'loop', type: 'say', entrypoint: true, config: { text: 'loop' }, next: 'back' },
        { id: 'back', type: 'goTo', config: { target: 'loop' } },
      ],
    };
    const turn = await new FlowRunner({ flow, extension: [] }).send(session, { text: '' });
    expect(turn.outputs.map((o) => o.text)).toEqual(['loop', 'loop', 'loop', 'loop', 'loop']);
    expect(turn.logs.some((l) => l.level === 'error' && l.message.includes('Infinite loop protection'))).toBe(true);
    expect(turn.nextEntry).toBeNull();
  });

  it("gives Get Transcript the session's user inputs and bot outputs in Cognigy's shape", async () => {
    const flow: Flow = {
      nodes: [
        { id: 'answer', type: 'say', config: { text: 'echo {{input.text}}' }, next: 'transcript' },
        { id: 'transcript', type: 'getTranscript', config: { storeLocation: 'input', key: 'transcript', limit: 1 } },
      ],
    };
    const runner = new FlowRunner({ flow, extension: [] });
    await runner.send(session, { text: 'one' });
    await runner.send(session, { text: '', data: { relayEvent: true } });
    const turn = await runner.send(session, { text: 'two' });
    // limit 1 = one step (an input and an output); an input without text is no transcript line.
    expect(turn.input.transcript).toEqual([
      { role: 'user', type: 'input', payload: { text: 'two', data: {} }, timestamp: expect.any(Number) },
      { role: 'assistant', type: 'output', payload: { text: 'echo two', data: null }, timestamp: expect.any(Number) },
    ]);
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
    const runner = new FlowRunner({
      flow,
      extension: nodes,
      connections: { main: { relayUrl: 'https://r.example.com' } },
      defaultProfile: { firstname: 'Ada' },
    });
    runner.session(session).context.items = [{ a: 1 }];
    await runner.send(session, { text: '' });
    expect(seen).toEqual({
      connection: { relayUrl: 'https://r.example.com' },
      greeting: 'Hello Ada',
      list: [{ a: 1 }],
      flag: false,
      raw: '{{context.items}}',
    });
  });

  it('records a node that throws or runs too long, and stops the Flow', async () => {
    const nodes = [
      ...parent('boom', async () => {
        throw new Error('secret detail');
      }),
      ...parent('slow', () => new Promise<void>((resolve) => setTimeout(resolve, 500))),
    ];
    const flow: Flow = {
      nodes: [...placeNode(nodes[0]!, { id: 'b', next: 'after' }), { id: 'after', type: 'say', config: { text: 'never' } }],
    };
    const runner = new FlowRunner({ flow, extension: nodes });
    const turn = await runner.send(session, { text: '' });
    expect(turn.outputs).toEqual([]);
    expect(turn.executions[0]?.failure).toBe('threw Error');
    expect(turn.logs.some((l) => l.level === 'error' && l.nodeId === 'b')).toBe(true);

    const slowRunner = new FlowRunner({ flow: { nodes: placeNode(nodes[3]!, { id: 's' }) }, extension: nodes, nodeTimeoutMs: 50 });
    const slowTurn = await slowRunner.send(session, { text: '' });
    expect(slowTurn.executions[0]?.failure).toContain('time limit');
  });

  it('counts outbound HTTP calls per node execution, for information', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const nodes = parent('caller', async ({ cognigy }) => {
        const n = Number(cognigy.input.text);
        for (let i = 0; i < n; i += 1) await fetch(url).then((r) => r.text());
        await new Promise<void>((resolve) => http.get(url, (res) => res.resume().on('end', resolve)));
      });
      const runner = new FlowRunner({ flow: { nodes: placeNode(nodes[0]!, { id: 'c' }) }, extension: nodes });
      expect((await runner.send(session, { text: '0' })).executions[0]?.httpCalls).toBe(1);
      const busy = await runner.send(session, { text: '11' });
      expect(busy.executions[0]?.httpCalls).toBe(12);
      // HTTP requests are not extension actions: no limit applies to them.
      expect(busy.executions[0]?.failure).toBeUndefined();
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('counts extension actions (api.* calls) and stops the Flow on the 11th in one execution', async () => {
    const nodes = parent('chatty', async ({ cognigy }) => {
      const n = Number(cognigy.input.text);
      for (let i = 0; i < n; i += 1) cognigy.api.log!('info', `line ${i}`);
    });
    const flow: Flow = {
      nodes: [...placeNode(nodes[0]!, { id: 'c', next: 'after' }), { id: 'after', type: 'say', config: { text: 'after' } }],
    };
    const runner = new FlowRunner({ flow, extension: nodes });
    const ten = await runner.send(session, { text: '10' });
    expect(ten.executions[0]).toMatchObject({ actions: 10 });
    expect(ten.outputs.map((o) => o.text)).toEqual(['after']);
    const eleven = await runner.send(session, { text: '11' });
    expect(eleven.executions[0]?.failure).toContain('more than 10 extension actions');
    expect(eleven.outputs).toEqual([]);
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
    expect(
      () => new FlowRunner({ flow: { nodes: [{ id: 'x', type: 'p', children: [{ id: 'c', type: 'say' }] }] }, extension: nodes }),
    ).toThrow('not a child type');
  });
});

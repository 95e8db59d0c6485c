import type { INodeDescriptor } from '@cognigy/extension-tools';
import type { IConnectionSchema } from '@cognigy/extension-tools';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONNECTION_FIELD_NAMES } from '../../extension/src/connection';
import { FlowRunner, placeNode, type Flow } from '../../sandbox/cognigy/flowRunner';
import { useFrontedRig } from '../helpers/relayRig';

/** Builds the uploadable tarball once and checks it the way Cognigy would use it. */

const repoRoot = join(__dirname, '../..');
const tarball = join(repoRoot, 'rce-handover.tar.gz');
let unpacked: string;
let buildOutput: string;
let loaded: { nodes: INodeDescriptor[]; connections: IConnectionSchema[]; options: { label?: string } };

beforeAll(() => {
  buildOutput = execFileSync('./build.sh', { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  unpacked = mkdtempSync(join(tmpdir(), 'rce-extension-'));
  execFileSync('tar', ['xzf', tarball, '-C', unpacked]);
  // Cognigy loads the package's main file and takes its default export.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- a CommonJS file built at test time, loaded as Cognigy does
  loaded = require(join(unpacked, 'build/module.js')).default;
}, 120_000);

afterAll(() => {
  if (unpacked) rmSync(unpacked, { recursive: true, force: true });
});

describe('extension tarball', () => {
  it('holds exactly the five files at its root', () => {
    const entries = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    expect(entries).toEqual(['README.md', 'build/module.js', 'icon.png', 'package-lock.json', 'package.json']);
  });

  it('is smaller than 2 MB and build.sh prints its size', () => {
    const size = statSync(tarball).size;
    expect(size).toBeLessThan(2 * 1024 * 1024);
    expect(buildOutput).toContain(`rce-handover.tar.gz: ${size} bytes`);
  });

  it('has a 64×64 PNG icon', () => {
    const png = readFileSync(join(unpacked, 'icon.png'));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(png.subarray(12, 16).toString('ascii')).toBe('IHDR');
    expect(png.readUInt32BE(16)).toBe(64);
    expect(png.readUInt32BE(20)).toBe(64);
  });

  it('has a manifest Cognigy accepts, with a matching lock file and no runtime dependencies', () => {
    const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));
    const lock = JSON.parse(readFileSync(join(unpacked, 'package-lock.json'), 'utf8'));
    expect(manifest).toMatchObject({ name: 'rce-handover', main: 'build/module.js', dependencies: {} });
    expect(Number(String(manifest.version).split('.')[0])).toBeGreaterThanOrEqual(4);
    expect(lock).toMatchObject({
      name: manifest.name,
      version: manifest.version,
      packages: { '': { name: manifest.name, version: manifest.version } },
    });
    expect(Object.keys(lock.packages)).toEqual(['']);
  });

  it('ships the extension README', () => {
    expect(readFileSync(join(unpacked, 'README.md'), 'utf8')).toBe(readFileSync(join(repoRoot, 'extension/README.md'), 'utf8'));
  });

  it('bundles everything: the module requires only Node built-ins', () => {
    const code = readFileSync(join(unpacked, 'build/module.js'), 'utf8');
    const required = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1] ?? '');
    expect(required.length).toBeGreaterThan(0);
    expect(required.filter((name) => !builtinModules.includes(name))).toEqual([]);
  });

  it('exposes the nodes, branches, connection and label from require(main).default', () => {
    const types = loaded.nodes.map((n) => n.type).sort();
    expect(types).toEqual(
      [
        'handoverToRce',
        'onQueueUpdate',
        'onAgentJoined',
        'onReturnToBot',
        'onCancel',
        'onError',
        'onLongWait',
        'onTransfer',
        'onWhileWaiting',
        'checkAgentAvailability',
        'checkAgentAvailabilityOnAvailable',
        'checkAgentAvailabilityOnUnavailable',
        'checkAgentAvailabilityOnError',
        'closeRceHandover',
        'closeRceHandoverOnClosed',
        'closeRceHandoverOnNotRunning',
        'closeRceHandoverOnError',
        'getQueueStatus',
        'getQueueStatusOnSuccess',
        'getQueueStatusOnError',
        'sendProfile',
        'sendProfileOnSuccess',
        'sendProfileOnError',
        'mirrorToRce',
      ].sort(),
    );
    expect(loaded.connections.map((c) => c.type)).toEqual(['rce-handover']);
    // The built package carries the source's connection fields (their names and order are pinned in extension.descriptors.test.ts).
    expect(loaded.connections[0]?.fields.map((f) => f.fieldName)).toEqual([...CONNECTION_FIELD_NAMES]);
    expect(loaded.options.label).toBe('RingCentral Engage Handover');
    for (const n of loaded.nodes) expect(typeof n.function === 'function').toBe(!n.parentType);
  });

  describe('nodes from the loaded bundle against the real relay', () => {
    const relay = useFrontedRig('relay');

    it('starts a handover against the relay with one signed call', async () => {
      const handover = loaded.nodes.find((n) => n.type === 'handoverToRce')!;
      const runner = new FlowRunner({
        flow: { nodes: placeNode(handover, { id: 'handover', config: { connection: 'rce' } }) },
        extension: loaded,
        connections: { rce: relay.connection },
        defaultProfile: { firstname: 'Ada' },
      });
      const session = { URLToken: 'tok', userId: 'packaged-user', sessionId: 'packaged-session' };
      const turn = await runner.send(session, { text: 'agent' });
      expect(turn.executions[0]).toMatchObject({ nodeId: 'handover', httpCalls: 1 });
      expect(turn.executions[0]?.failure).toBeUndefined();
      expect(turn.nextEntry).toBe('handover');
      const [request] = relay.requestsFor('startHandover');
      expect(request?.signature.ok).toBe(true);
      expect(request?.schemaError).toBeNull();
      expect(request?.body).toMatchObject({ session, profile: { firstname: 'Ada' } });
      expect(runner.session(session).context.rceHandover).toMatchObject({ active: true, status: 'queued' });
    });

    it('mirrors a user message before any handover with one signed call', async () => {
      const mirror = loaded.nodes.find((n) => n.type === 'mirrorToRce')!;
      const flow: Flow = {
        nodes: [
          ...placeNode(mirror, { id: 'mirror', config: { connection: 'rce' }, next: 'say' }),
          { id: 'say', type: 'say', config: { text: 'ok' } },
        ],
      };
      const runner = new FlowRunner({ flow, extension: loaded, connections: { rce: relay.connection } });
      const session = { URLToken: 'tok', userId: 'packaged-user', sessionId: 'packaged-mirror-session' };
      const turn = await runner.send(session, { text: 'hello' });
      expect(turn.executions[0]).toMatchObject({ nodeId: 'mirror', httpCalls: 1 });
      expect(turn.outputs.map((o) => o.text)).toEqual(['ok']);
      expect(turn.logs).toEqual([]);
      const [request] = relay.requestsFor('userMessage');
      expect(request?.signature.ok).toBe(true);
      expect(request?.body).toMatchObject({ session, role: 'user', mirror: true, text: 'hello' });
      expect(request?.response).toEqual({ forwarded: true, status: 'idle' });
    });
  });
});

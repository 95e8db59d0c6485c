import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { loadConfig, SETTINGS_ENV, TENANT_ENV, type RelayConfig } from '../../relay/src/config';
import { createRelay } from '../../relay/src/relay';
import { parseStoreUrl } from '../../relay/src/store/openStore';
import { capturingLogger, openTestStore } from '../helpers/relayParts';

/**
 * deploy/docker-compose.yml and deploy/k8s/*.yaml against the relay's configuration schema: every
 * variable they set is one the relay reads (names from relay/src/config.ts), the values parse with
 * the relay's own loader, ports line up, and the probe paths answer on the relay.
 */

// js-yaml comes with jest (a dev dependency); only its safe loaders are used.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const yaml = require('js-yaml') as { safeLoad(text: string): unknown; safeLoadAll(text: string): unknown[] };

const DEPLOY = path.resolve(__dirname, '../../deploy');
const RELAY_ENV_NAMES = new Set([...Object.keys(SETTINGS_ENV), ...Object.keys(TENANT_ENV)]);
/** Read by loadConfig() itself, outside both maps: the tenants file. */
const FILE_ENV = 'RELAY_CONFIG';

const stringMap = z.record(z.string(), z.string());

const composeSchema = z.object({
  services: z.record(
    z.string(),
    z.object({
      build: z.object({ context: z.string(), dockerfile: z.string() }).optional(),
      image: z.string(),
      command: z.array(z.string()).optional(),
      environment: stringMap.optional(),
      ports: z.array(z.string()).optional(),
      depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
      healthcheck: z.object({ test: z.array(z.string()) }).optional(),
    }),
  ),
});

const probeSchema = z.object({ httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }) });
const containerSchema = z.object({
  name: z.string(),
  image: z.string(),
  env: z.array(z.object({ name: z.string() })).optional(),
  envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string() }) })).optional(),
  ports: z.array(z.object({ name: z.string(), containerPort: z.number() })),
  readinessProbe: probeSchema,
  livenessProbe: probeSchema,
  resources: z.object({ requests: z.object({ cpu: z.string(), memory: z.string() }), limits: z.object({ memory: z.string() }) }),
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })),
});
const k8sDocSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('ConfigMap'), metadata: z.object({ name: z.string() }), data: stringMap }),
  z.object({ kind: z.literal('Secret'), metadata: z.object({ name: z.string() }), stringData: stringMap }),
  z.object({
    kind: z.literal('Deployment'),
    metadata: z.object({ name: z.string() }),
    spec: z.object({
      replicas: z.number(),
      selector: z.object({ matchLabels: stringMap }),
      template: z.object({
        metadata: z.object({ labels: stringMap, annotations: stringMap.optional() }),
        spec: z.object({
          containers: z.array(containerSchema).length(1),
          volumes: z.array(z.object({ name: z.string(), secret: z.object({ secretName: z.string() }).optional() })),
        }),
      }),
    }),
  }),
  z.object({
    kind: z.literal('Service'),
    spec: z.object({ selector: stringMap, ports: z.array(z.object({ targetPort: z.union([z.string(), z.number()]) })) }),
  }),
  z.object({
    kind: z.literal('PodDisruptionBudget'),
    spec: z.object({ minAvailable: z.number(), selector: z.object({ matchLabels: stringMap }) }),
  }),
  z.object({ kind: z.literal('Kustomization'), resources: z.array(z.string()) }),
]);
type K8sDoc = z.infer<typeof k8sDocSchema>;

function loadK8s(): K8sDoc[] {
  const dir = path.join(DEPLOY, 'k8s');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => yaml.safeLoadAll(readFileSync(path.join(dir, f), 'utf8')).map((doc) => k8sDocSchema.parse(doc)));
}

function ofKind<K extends K8sDoc['kind']>(docs: K8sDoc[], kind: K): Extract<K8sDoc, { kind: K }> {
  const found = docs.filter((d): d is Extract<K8sDoc, { kind: K }> => d.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

/** A sample value that passes the schema for each variable that compose reads from deploy/.env. */
function sampleFor(name: string): string {
  if (name.endsWith('_URL'))
    return name === 'RCE_REALTIME_ENDPOINT_URL' ? 'https://acme.engagement.dimelo.com/realtime/sdk/src1' : 'https://example.test';
  return `sample-${name.toLowerCase()}`;
}

/** Compose interpolation, as `docker compose` does it: ${VAR:?err}, ${VAR:-default}, ${VAR}. */
function interpolate(value: string, from: (name: string) => string | undefined): string {
  return value.replace(/\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string) => {
    const v = from(name);
    if (v !== undefined && v !== '') return v;
    if (op === '-') return arg;
    throw new Error(`${name} is required: ${arg}`);
  });
}

type Listener = 'public' | 'admin';

/** Status of each probe path on the listener it targets (both listeners on free loopback ports). */
async function probeAnswers(config: RelayConfig, probes: { path: string; listener: Listener }[]): Promise<string[]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'rce-manifest-'));
  const store = await openTestStore({ sqliteFile: path.join(dir, 'relay.db') });
  const relay = createRelay({
    config: { ...config, settings: { ...config.settings, adminHost: '127.0.0.1' } },
    store,
    logger: capturingLogger(config, 'silent').logger,
  });
  try {
    const { url, adminUrl } = await relay.start(0, '127.0.0.1');
    const out: string[] = [];
    for (const probe of probes)
      out.push(`${probe.listener} ${probe.path} ${(await fetch(`${probe.listener === 'admin' ? adminUrl : url}${probe.path}`)).status}`);
    return out;
  } finally {
    await relay.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('deployment manifests match the relay configuration', () => {
  it('docker-compose: two relays on one Redis with persistence and noeviction, only variables the relay reads', () => {
    const compose = composeSchema.parse(yaml.safeLoad(readFileSync(path.join(DEPLOY, 'docker-compose.yml'), 'utf8')));
    const relays = Object.entries(compose.services).filter(([, s]) => s.build?.dockerfile === 'Dockerfile');
    expect(relays.map(([name]) => name)).toHaveLength(2);

    const redis = compose.services.redis;
    expect(redis?.command?.join(' ')).toMatch(/--appendonly yes/);
    expect(redis?.command?.join(' ')).toMatch(/--maxmemory-policy noeviction/);

    for (const [name, service] of relays) {
      const environment = service.environment ?? {};
      const unknown = Object.keys(environment).filter((k) => !RELAY_ENV_NAMES.has(k));
      expect({ service: name, unknown }).toEqual({ service: name, unknown: [] });
      // Each ${VAR} names the variable it fills, so deploy/.env uses the relay's own names.
      for (const [key, value] of Object.entries(environment)) {
        for (const [, ref] of value.matchAll(/\$\{([A-Z0-9_]+)/g)) expect(ref).toBe(key);
      }
      const env = Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(v, sampleFor)]));
      const config = loadConfig(env);
      expect(parseStoreUrl(config.settings.storeUrl).kind).toBe('redis');
      expect(service.depends_on?.redis?.condition).toBe('service_healthy');
      // host:container, and the container side is where the relay listens.
      const containerPorts = (service.ports ?? []).map((p) => Number(p.split(':').at(-1)));
      expect(containerPorts).toEqual([config.settings.port]);
      // The admin listener is never published; it listens beyond loopback for the compose network.
      expect(containerPorts).not.toContain(config.settings.adminPort);
      expect(config.settings.adminHost).toBe('0.0.0.0');
      // The health check asks /readyz on the admin port, from inside the container.
      const check = service.healthcheck?.test.join(' ') ?? '';
      expect(check).toContain(`http://127.0.0.1:${config.settings.adminPort}/readyz`);
    }
    // The .env template names exactly the variables compose asks for.
    const template = readFileSync(path.join(DEPLOY, 'relay.env.example'), 'utf8');
    const templateNames = [...template.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]);
    const asked = new Set(
      relays.flatMap(([, s]) => Object.values(s.environment ?? {}).flatMap((v) => [...v.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]))),
    );
    expect(new Set(templateNames)).toEqual(asked);
  });

  it('kubernetes: ConfigMap variables are relay settings, the Secret is the tenants file RELAY_CONFIG names, ports and probes line up', async () => {
    const docs = loadK8s();
    const configMap = ofKind(docs, 'ConfigMap');
    const secret = ofKind(docs, 'Secret');
    const deployment = ofKind(docs, 'Deployment');
    const container = deployment.spec.template.spec.containers[0]!;

    const unknown = [...Object.keys(configMap.data), ...(container.env ?? []).map((e) => e.name)].filter(
      (k) => !RELAY_ENV_NAMES.has(k) && k !== FILE_ENV,
    );
    expect(unknown).toEqual([]);
    expect(container.envFrom?.map((e) => e.configMapRef.name)).toEqual([configMap.metadata.name]);

    // RELAY_CONFIG points into the mounted Secret.
    const relayConfigPath = configMap.data[FILE_ENV] ?? '';
    const tenantsVolume = deployment.spec.template.spec.volumes.find((v) => v.secret?.secretName === secret.metadata.name);
    const mount = container.volumeMounts.find((m) => m.name === tenantsVolume?.name);
    expect(mount && path.posix.join(mount.mountPath, path.posix.basename(relayConfigPath))).toBe(relayConfigPath);
    const tenantsFile = secret.stringData[path.posix.basename(relayConfigPath)];
    expect(tenantsFile).toBeDefined();

    // The relay's own loader accepts ConfigMap + Secret as they are.
    const dir = mkdtempSync(path.join(tmpdir(), 'rce-k8s-'));
    const file = path.join(dir, 'tenants.json');
    writeFileSync(file, tenantsFile ?? '');
    const config = loadConfig({ ...configMap.data, [FILE_ENV]: file });
    rmSync(dir, { recursive: true, force: true });
    expect(config.tenants).toHaveLength(1);
    // Several replicas need the shared store.
    expect(deployment.spec.replicas).toBeGreaterThan(1);
    expect(parseStoreUrl(config.settings.storeUrl).kind).toBe('redis');

    const portByName = new Map(container.ports.map((p) => [p.name, p.containerPort]));
    expect(portByName.get('http')).toBe(config.settings.port);
    expect(portByName.get('admin')).toBe(config.settings.adminPort);
    const probePort = (port: string | number) => (typeof port === 'number' ? port : portByName.get(port));
    const listenerOf = (port: string | number): Listener | undefined =>
      probePort(port) === config.settings.adminPort ? 'admin' : probePort(port) === config.settings.port ? 'public' : undefined;
    // Readiness on the admin listener (where /readyz is served), liveness on the public port.
    expect(listenerOf(container.readinessProbe.httpGet.port)).toBe('admin');
    expect(listenerOf(container.livenessProbe.httpGet.port)).toBe('public');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    // The kubelet probes the pod IP: the admin listener must not be loopback-only.
    expect(config.settings.adminHost).toBe('0.0.0.0');
    // Prometheus scrapes the admin port.
    const annotations = z
      .object({ 'prometheus.io/port': z.string(), 'prometheus.io/path': z.string() })
      .parse(deployment.spec.template.metadata.annotations);
    expect(Number(annotations['prometheus.io/port'])).toBe(config.settings.adminPort);
    expect(annotations['prometheus.io/path']).toBe('/metrics');

    // The Service routes the public port only, never the admin port.
    const service = ofKind(docs, 'Service');
    expect(service.spec.ports.map((p) => probePort(p.targetPort))).toEqual([config.settings.port]);
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    const pdb = ofKind(docs, 'PodDisruptionBudget');
    expect(pdb.spec.selector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
    expect(pdb.spec.minAvailable).toBeLessThan(deployment.spec.replicas);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);

    const kustomization = ofKind(docs, 'Kustomization');
    expect(new Set(kustomization.resources)).toEqual(
      new Set(readdirSync(path.join(DEPLOY, 'k8s')).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')),
    );

    // The probe paths answer 200 on the listener the probes target (a relay with this config,
    // on a throwaway SQLite file instead of the cluster's Redis).
    const probes = [container.readinessProbe, container.livenessProbe].map((probe) => ({
      path: probe.httpGet.path,
      listener: listenerOf(probe.httpGet.port) ?? 'public',
    }));
    const answers = await probeAnswers({ ...config, settings: { ...config.settings, storeUrl: 'sqlite:unused' } }, probes);
    expect(answers).toEqual(['admin /readyz 200', 'public /healthz 200']);
  });
});

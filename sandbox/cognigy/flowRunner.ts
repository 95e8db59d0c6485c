import type { INodeDescriptor } from '@cognigy/extension-tools';
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { resolveDeep, unsupportedExpressions, type ScriptScope } from './cognigyScript';
import { ExtensionActionLimitError, createNodeApi, type LogLevel } from './nodeApi';

/**
 * A small Flow runner that executes real extension node descriptors the way Cognigy does:
 * it keeps per-session context, profile and entry point, resolves CognigyScript in configs,
 * calls `descriptor.function({cognigy, config, childConfigs, nodeId})`, follows `setNextNode`,
 * runs child branches and then continues after the parent, and stops on `stopExecution`.
 *
 * Cognigy's semantics, as its own sources state them (built-in node code in
 * `@cognigy/rest-api-client` build/shared/charts/descriptors; Cognigy/Documentation):
 *  - `api.setNextNode(id)` names the node that runs right after the current one. How several
 *    calls combine is not documented; two readings are modelled (`nextNodeModel`):
 *    "lastWins" (default): one slot, the last call wins, `resetNextNodes` clears it; a node that
 *      calls `setNextNode(self)` and then routes to a child has routed to the child, and nothing
 *      remembers "self".
 *    "stack": each call is pushed (the session type has `nodesToExecuteStack`, the API has
 *      `resetNextNodes`, and the Question node calls `setNextNode(self)` before Execute Flow "so we
 *      can return to me", then guards against running twice on one input); the top runs next and
 *      the rest run when the current chain ends, in the same input — so "self, then a branch"
 *      runs the branch and then the node again on the same input.
 *  - Waiting for input is `setNextNode(X)` + `stopExecution()` (the Question node does it with
 *    X = itself): the next input starts at X. X needs no `behavior.entrypoint`.
 *  - When a chain simply ends (e.g. a branch that ends with a Say), the next input starts at the
 *    Flow start.
 *  - Go To (`goTo`, and `goToIf` = an If node whose then-branch is a Go To): its target must be
 *    marked *Set Entrypoint* (`entrypoint: true` on the placed node). Mode "continue" runs the
 *    target now with the same input; mode "wait" stops and the next input starts at the target.
 *    More than 4 Go To activations without a new input trip Cognigy's infinite-loop protection.
 *  - Extensions: 20 s per node execution and 10 extension actions (`api.*` calls) per execution
 *    (docs/ai/administer/limitations.md). HTTP calls are counted for information only.
 */

/** A node placed in the Flow. `config` values may contain CognigyScript. */
export interface FlowNode {
  id: string;
  /** A descriptor type from the extension, or a built-in: `say`, `setContext`, `goTo`, `goToIf`, `ifTextMatches`, `getTranscript`. */
  type: string;
  label?: string;
  /** Cognigy's "Set Entrypoint" node setting: only such nodes can be Go To targets. */
  entrypoint?: boolean;
  config?: Record<string, unknown>;
  /** The branch nodes of a parent (its "On X" children); each may lead into a chain of nodes. */
  children?: FlowChildNode[];
  next?: string;
}

export interface FlowChildNode {
  id: string;
  type: string;
  next?: string;
}

export interface Flow {
  /** Defaults to the first node. */
  start?: string;
  nodes: FlowNode[];
}

export interface SessionKey {
  URLToken: string;
  userId: string;
  sessionId: string;
}

export interface OutputRecord {
  nodeId: string;
  text: string;
  data: unknown;
  inputId: string;
}

export interface LogRecord {
  level: LogLevel;
  message: string;
  nodeId: string | null;
  inputId: string;
}

export interface NodeExecutionRecord {
  nodeId: string;
  type: string;
  /** Outbound HTTP requests started during this execution (information; Cognigy limits actions, not requests). */
  httpCalls: number;
  /** Extension actions (`api.*` calls) made during this execution. */
  actions: number;
  durationMs: number;
  /** Set when the node threw or timed out (Cognigy logs it and stops the Flow). */
  failure?: string;
}

export interface SessionState {
  key: SessionKey;
  context: Record<string, unknown>;
  profile: Record<string, unknown>;
  /** Node id the next input starts at; null = Flow start. */
  entry: string | null;
  outputs: OutputRecord[];
  logs: LogRecord[];
  executionCount: number;
  /** Stack model: nodes still on the stack when the Flow stopped to wait for input. */
  pending: string[];
  /** What Cognigy's Get Transcript node reads: user inputs and bot outputs with text, in order. */
  transcript: TranscriptEntry[];
}

/**
 * One entry of the session transcript as the Get Transcript node yields it:
 * `{role, type, payload: {text, data}, timestamp}` (Cognigy/Extensions extensions/cxone
 * `ConversationItem`; roles per Cognigy/Documentation add-transcript-steps.md).
 */
export interface TranscriptEntry {
  role: 'user' | 'assistant';
  type: 'input' | 'output';
  payload: { text: string; data: unknown };
  timestamp: number;
}

export interface TurnResult {
  input: Record<string, unknown>;
  outputs: OutputRecord[];
  logs: LogRecord[];
  executions: NodeExecutionRecord[];
  /** Where the next input will start (null = Flow start). */
  nextEntry: string | null;
}

export interface UserMessage {
  text?: string;
  data?: Record<string, unknown>;
}

export type NextNodeModel = 'lastWins' | 'stack';

export interface FlowRunnerOptions {
  flow: Flow;
  /** The extension (createExtension result) or its descriptors. */
  extension: { nodes: INodeDescriptor[] } | INodeDescriptor[];
  /** Connections by name; a node config `connection: "<name>"` is replaced by the object. */
  connections?: Record<string, Record<string, string>>;
  /** Initial contact profile of new sessions. */
  defaultProfile?: Record<string, unknown>;
  nodeTimeoutMs?: number;
  /** Cognigy's "Extension actions" quota per node execution (default 10). */
  maxActionsPerExecution?: number;
  /** How several `setNextNode` calls combine (see the file comment); default "lastWins". */
  nextNodeModel?: NextNodeModel;
  maxStepsPerTurn?: number;
  onOutput?: (session: SessionKey, output: OutputRecord) => void;
  onLog?: (session: SessionKey, log: LogRecord) => void;
}

export const BUILT_IN_TYPES = ['say', 'setContext', 'goTo', 'goToIf', 'ifTextMatches', 'getTranscript'] as const;
/** Go To activations allowed without a new input (Cognigy's default infinite-loop protection). */
export const MAX_GO_TO_ACTIVATIONS = 4;

export type GoToMode = 'continue' | 'wait';
interface GoToConfig {
  target?: unknown;
  /** "continue" (Cognigy's default) or "wait" (wait for input). */
  mode?: unknown;
}
const RESOLVED_FIELD_TYPES = new Set(['cognigyText', 'text', 'json', 'textArray', 'say']);

// ---- outbound HTTP accounting --------------------------------------------------------------
interface HttpCounter {
  calls: number;
}
const httpScope = new AsyncLocalStorage<HttpCounter>();
let httpChannelsSubscribed = false;
function countHttpCall(): void {
  const counter = httpScope.getStore();
  if (counter) counter.calls += 1;
}
function subscribeHttpChannels(): void {
  if (httpChannelsSubscribed) return;
  httpChannelsSubscribed = true;
  diagnosticsChannel.subscribe('http.client.request.start', countHttpCall); // node:http / https (axios)
  diagnosticsChannel.subscribe('undici:request:create', countHttpCall); // global fetch
}

// ---- the runner ----------------------------------------------------------------------------
export class FlowRunner {
  private readonly descriptors = new Map<string, INodeDescriptor>();
  private readonly nodes = new Map<string, FlowNode | (FlowChildNode & { parentId: string })>();
  private readonly sessions = new Map<string, SessionState>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly start: string;

  constructor(private readonly options: FlowRunnerOptions) {
    subscribeHttpChannels();
    const list = Array.isArray(options.extension) ? options.extension : options.extension.nodes;
    for (const descriptor of list) this.descriptors.set(descriptor.type, descriptor);
    for (const node of options.flow.nodes) {
      this.addNode(node.id, node);
      const descriptor = this.descriptors.get(node.type);
      if (!descriptor && !(BUILT_IN_TYPES as readonly string[]).includes(node.type)) {
        throw new Error(`Flow node "${node.id}": unknown type "${node.type}".`);
      }
      for (const child of node.children ?? []) {
        const childDescriptor = this.descriptors.get(child.type);
        if (!childDescriptor || childDescriptor.parentType !== node.type) {
          throw new Error(`Flow node "${node.id}": "${child.type}" is not a child type of "${node.type}".`);
        }
        this.addNode(child.id, { ...child, parentId: node.id });
      }
    }
    const first = options.flow.start ?? options.flow.nodes[0]?.id;
    if (!first || !this.nodes.has(first)) throw new Error('Flow has no start node.');
    this.start = first;
    for (const node of this.nodes.values()) {
      if (node.next && !this.nodes.has(node.next)) throw new Error(`Flow node "${node.id}": next "${node.next}" does not exist.`);
      if ('type' in node && (node.type === 'goTo' || node.type === 'goToIf') && !('parentId' in node)) this.checkGoTo(node);
    }
  }

  /** Cognigy's Go To offers only nodes marked "Set Entrypoint" as targets. */
  private checkGoTo(node: FlowNode): void {
    const config = (node.config ?? {}) as GoToConfig;
    const target = typeof config.target === 'string' ? this.nodes.get(config.target) : undefined;
    if (!target || 'parentId' in target) throw new Error(`Flow node "${node.id}": Go To target "${String(config.target)}" does not exist.`);
    if (!target.entrypoint) throw new Error(`Flow node "${node.id}": Go To target "${target.id}" is not marked Set Entrypoint.`);
    if (config.mode !== undefined && config.mode !== 'continue' && config.mode !== 'wait') {
      throw new Error(`Flow node "${node.id}": Go To mode must be "continue" or "wait".`);
    }
  }

  private addNode(id: string, node: FlowNode | (FlowChildNode & { parentId: string })): void {
    if (this.nodes.has(id)) throw new Error(`Flow node id "${id}" is used twice.`);
    this.nodes.set(id, node);
  }

  /** The session's state (created on first use). */
  session(key: SessionKey): SessionState {
    const id = sessionId(key);
    let state = this.sessions.get(id);
    if (!state) {
      state = {
        key: { ...key },
        context: {},
        profile: structuredClone(this.options.defaultProfile ?? {}),
        entry: null,
        outputs: [],
        logs: [],
        executionCount: 0,
        pending: [],
        transcript: [],
      };
      this.sessions.set(id, state);
    }
    return state;
  }

  /**
   * Run the Flow for one input (a user message or an inject). Inputs of one session run one
   * after another, like Cognigy does.
   */
  send(key: SessionKey, message: UserMessage, inputOverrides: Record<string, unknown> = {}): Promise<TurnResult> {
    const id = sessionId(key);
    const previous = this.queues.get(id) ?? Promise.resolve();
    const turn = previous.catch(() => undefined).then(() => this.runTurn(key, message, inputOverrides));
    this.queues.set(id, turn);
    return turn;
  }

  private async runTurn(key: SessionKey, message: UserMessage, inputOverrides: Record<string, unknown>): Promise<TurnResult> {
    const session = this.session(key);
    session.executionCount += 1;
    const text = message.text ?? '';
    const data = message.data ?? {};
    const hasData = Object.keys(data).length > 0;
    const input: Record<string, unknown> = {
      text,
      data,
      URLToken: key.URLToken,
      userId: key.userId,
      sessionId: key.sessionId,
      inputId: randomUUID(),
      traceId: `trace-${randomUUID()}`,
      channel: 'webchat',
      endpointType: 'webchat3',
      mode: text && hasData ? 'TextData' : text ? 'TextOnly' : hasData ? 'DataOnly' : 'Empty',
      execution: session.executionCount,
      entryPoint: session.entry ?? this.start,
      language: 'en-US',
      localeId: 'default',
      ...inputOverrides,
    };
    const inputId = String(input.inputId);
    if (text) session.transcript.push({ role: 'user', type: 'input', payload: { text, data }, timestamp: Date.now() });
    const result: TurnResult = { input, outputs: [], logs: [], executions: [], nextEntry: null };
    const record = {
      output: (nodeId: string, text: string, data: unknown): void => {
        const output: OutputRecord = { nodeId, text, data, inputId };
        session.outputs.push(output);
        if (text)
          session.transcript.push({ role: 'assistant', type: 'output', payload: { text, data: data ?? null }, timestamp: Date.now() });
        result.outputs.push(output);
        this.options.onOutput?.(session.key, output);
      },
      log: (nodeId: string | null, level: LogLevel, message: string): void => {
        const log: LogRecord = { level, message, nodeId, inputId };
        session.logs.push(log);
        result.logs.push(log);
        this.options.onLog?.(session.key, log);
      },
    };

    let current: string | undefined = session.entry ?? this.start;
    session.entry = null;
    const stackModel = this.options.nextNodeModel === 'stack';
    const continuations: (string | undefined)[] = stackModel ? [...session.pending] : [];
    session.pending = [];
    const maxSteps = this.options.maxStepsPerTurn ?? 200;
    let steps = 0;
    let goToActivations = 0;
    /** Go To: "continue" runs the target now, "wait" makes it the entry of the next input. Returns the node to run now. */
    const goTo = (node: FlowNode, config: GoToConfig): string | undefined => {
      goToActivations += 1;
      if (goToActivations > MAX_GO_TO_ACTIVATIONS) {
        record.log(
          node.id,
          'error',
          `Infinite loop protection: more than ${MAX_GO_TO_ACTIVATIONS} Go To activations without an input; the Flow stops.`,
        );
        return undefined;
      }
      const target = String(config.target);
      // A Go To leaves the current chain for good: no branch continues after it.
      continuations.length = 0;
      if (config.mode === 'wait') {
        session.entry = target;
        return undefined;
      }
      return target;
    };

    while (current !== undefined) {
      if (++steps > maxSteps) {
        record.log(null, 'error', `Flow stopped after ${maxSteps} steps in one input (loop?).`);
        break;
      }
      const node = this.nodes.get(current);
      if (!node) {
        record.log(null, 'error', `Flow node "${current}" does not exist.`);
        break;
      }
      const afterThis = (): string | undefined => node.next ?? continuations.pop();

      if ('parentId' in node) {
        current = afterThis(); // a branch node itself does nothing
        continue;
      }
      const scope: ScriptScope = { input, context: session.context, profile: session.profile };
      if (node.type === 'say') {
        const config = resolveDeep(node.config ?? {}, scope, false) as { text?: unknown; data?: unknown };
        record.output(node.id, String(config.text ?? ''), config.data ?? null);
        current = afterThis();
        continue;
      }
      if (node.type === 'getTranscript') {
        // Cognigy's Get Transcript node: the last `limit` steps (a step = one input and one output).
        const config = (node.config ?? {}) as { limit?: unknown; storeLocation?: unknown; key?: unknown };
        const limit = typeof config.limit === 'number' && config.limit > 0 ? config.limit : 50;
        const key = typeof config.key === 'string' && config.key ? config.key : 'transcript';
        const entries = structuredClone(session.transcript.slice(-2 * limit));
        if (config.storeLocation === 'context') session.context[key] = entries;
        else input[key] = entries;
        current = afterThis();
        continue;
      }
      if (node.type === 'setContext') {
        const config = resolveDeep(node.config ?? {}, scope, true) as { key?: unknown; value?: unknown };
        if (typeof config.key === 'string') session.context[config.key] = config.value;
        current = afterThis();
        continue;
      }
      if (node.type === 'ifTextMatches') {
        // Cognigy's If node with a condition like `ci.text` matching a pattern (e.g. "agent|human"),
        // optionally and-ed with a CognigyScript value (`when`, e.g. "{{context.rceHandover.longWaitTaken}}").
        const config = resolveDeep(node.config ?? {}, scope, true) as { pattern?: unknown; target?: unknown; when?: unknown };
        const text = typeof input.text === 'string' ? input.text : '';
        const condition = !('when' in config) || Boolean(config.when);
        const matches = condition && typeof config.pattern === 'string' && new RegExp(config.pattern, 'i').test(text);
        current = matches && typeof config.target === 'string' ? config.target : afterThis();
        continue;
      }
      if (node.type === 'goTo') {
        current = goTo(node, (node.config ?? {}) as GoToConfig);
        continue;
      }
      if (node.type === 'goToIf') {
        // An If node whose then-branch is a Go To, e.g. the guard at the Flow start: "If <value> → Go To <target>".
        const config = resolveDeep(node.config ?? {}, scope, true) as GoToConfig & { value?: unknown };
        current = config.value ? goTo(node, config) : afterThis();
        continue;
      }

      const descriptor = this.descriptors.get(node.type);
      const nodeFunction = descriptor?.function;
      if (!descriptor || !nodeFunction) {
        current = afterThis();
        continue;
      }
      const config = this.resolveConfig(node, descriptor, scope, (msg) => record.log(node.id, 'warn', msg));
      const childConfigs = (node.children ?? []).map((c) => ({ id: c.id, type: c.type, config: {} }));
      const { api, control } = createNodeApi({
        maxActions: this.options.maxActionsPerExecution ?? 10,
        nodeId: node.id,
        input,
        context: session.context,
        profile: session.profile,
        onOutput: (text, data) => record.output(node.id, text, data),
        onLog: (level, message) => record.log(node.id, level, message),
      });

      const execution: NodeExecutionRecord = { nodeId: node.id, type: node.type, httpCalls: 0, actions: 0, durationMs: 0 };
      result.executions.push(execution);
      const counter: HttpCounter = { calls: 0 };
      const started = Date.now();
      const timeoutMs = this.options.nodeTimeoutMs ?? 20000;
      let timer: NodeJS.Timeout | undefined;
      try {
        await httpScope.run(counter, () =>
          Promise.race([
            nodeFunction({
              cognigy: { api, input, context: session.context, profile: session.profile },
              config,
              childConfigs,
              nodeId: node.id,
            }),
            new Promise<never>((_resolve, reject) => {
              timer = setTimeout(() => reject(new NodeTimeout(timeoutMs)), timeoutMs);
            }),
          ]),
        );
      } catch (error) {
        execution.failure =
          error instanceof NodeTimeout || error instanceof ExtensionActionLimitError
            ? error.message
            : `threw ${error instanceof Error ? error.name : typeof error}`;
        record.log(node.id, 'error', `Node "${node.id}" (${node.type}) ${execution.failure}; the Flow stops.`);
      } finally {
        if (timer) clearTimeout(timer);
        execution.httpCalls = counter.calls;
        execution.actions = control.actions;
        execution.durationMs = Date.now() - started;
      }
      if (execution.failure) break;

      if (stackModel) {
        if (control.pushed.length > 0) {
          const top = this.nodes.get(control.pushed[control.pushed.length - 1] ?? '');
          // Entering one of this node's branches: below everything the node pushed, continue after it.
          if (top && 'parentId' in top && top.parentId === node.id && node.next) continuations.push(node.next);
          continuations.push(...control.pushed);
        }
        if (control.stopped) {
          session.entry = continuations.pop() ?? null;
          session.pending = continuations.filter((id): id is string => id !== undefined);
          break;
        }
        current = control.pushed.length > 0 ? continuations.pop() : afterThis();
        continue;
      }
      if (control.stopped) {
        // Wait for input: the next input starts at the node set last (none: at the Flow start).
        session.entry = control.nextNode;
        break;
      }
      if (control.nextNode) {
        const target = this.nodes.get(control.nextNode);
        // Entering one of this node's branches: when the branch ends, continue after this node.
        if (target && 'parentId' in target && target.parentId === node.id) continuations.push(node.next ?? continuations.pop());
        current = control.nextNode;
      } else current = afterThis();
    }

    result.nextEntry = session.entry;
    return result;
  }

  private resolveConfig(
    node: FlowNode,
    descriptor: INodeDescriptor,
    scope: ScriptScope,
    warn: (message: string) => void,
  ): Record<string, unknown> {
    const config: Record<string, unknown> = {};
    for (const field of descriptor.fields ?? []) {
      if (field.defaultValue !== undefined) config[field.key] = structuredClone(field.defaultValue);
    }
    Object.assign(config, structuredClone(node.config ?? {}));
    for (const field of descriptor.fields ?? []) {
      const value = config[field.key];
      if (field.type === 'connection') {
        if (typeof value === 'string') {
          const connection = this.options.connections?.[value];
          if (!connection) warn(`Connection "${value}" is not defined in the runner.`);
          config[field.key] = connection ? { ...connection } : undefined;
        }
        continue;
      }
      if (!RESOLVED_FIELD_TYPES.has(field.type)) continue;
      for (const expression of unsupportedExpressions(value))
        warn(`CognigyScript "{{${expression}}}" is not supported by the runner; it resolves to "".`);
      config[field.key] = resolveDeep(value, scope, field.type === 'json');
    }
    return config;
  }
}

class NodeTimeout extends Error {
  constructor(ms: number) {
    super(`exceeded the ${ms / 1000} s node time limit`);
    this.name = 'NodeTimeout';
  }
}

function sessionId(key: SessionKey): string {
  return `${key.URLToken}\n${key.userId}\n${key.sessionId}`;
}

/**
 * Place an extension node with all its branches. `branches` maps a child type to the chain of
 * nodes that runs on it (e.g. a `say`); ids are derived from the parent id.
 */
export function placeNode(
  descriptor: INodeDescriptor,
  params: {
    id: string;
    config?: Record<string, unknown>;
    next?: string;
    entrypoint?: boolean;
    branches?: Record<string, Omit<FlowNode, 'id' | 'next'>[]>;
  },
): FlowNode[] {
  const children: FlowChildNode[] = [];
  const chains: FlowNode[] = [];
  for (const childType of descriptor.dependencies?.children ?? []) {
    const childId = `${params.id}/${childType}`;
    const chain = (params.branches?.[childType] ?? []).map((n, i) => ({ ...n, id: `${childId}/${i}` }) as FlowNode);
    chain.forEach((n, i) => {
      const following = chain[i + 1];
      if (following) n.next = following.id;
    });
    children.push(chain[0] ? { id: childId, type: childType, next: chain[0].id } : { id: childId, type: childType });
    chains.push(...chain);
  }
  const parent: FlowNode = { id: params.id, type: descriptor.type, config: params.config ?? {}, children };
  if (params.next) parent.next = params.next;
  if (params.entrypoint) parent.entrypoint = true;
  return [parent, ...chains];
}

import type { INodeExecutionAPI } from '@cognigy/extension-tools/build/interfaces/descriptor';

/**
 * The subset of Cognigy's `cognigy.api` our nodes use, recording what a node asks for
 * (outputs, logs, where to go next) so the Flow runner can act on it like Cognigy does.
 */

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface FakeNodeApi extends INodeExecutionAPI {
  say: (text: string, data?: unknown) => void;
  output: (text: string, data: unknown) => void;
  log: (level: string, text: string) => void;
  addToContext: (key: string, value: unknown, mode: string) => void;
  addToInput: (key: string, value: unknown) => void;
  getContext: (key: string) => unknown;
  deleteContext: (key: string) => void;
  updateProfile: (key: string, value: unknown) => Promise<void>;
  setNextNode: (nodeId: string) => void;
  resetNextNodes: () => void;
  stopExecution: () => void;
}

/** What the node asked for, read by the runner after the node's function returned. */
export interface NodeApiControl {
  /**
   * The node to run right after this one, or null for "the node's default successor".
   * One slot: the last `setNextNode` call wins (`resetNextNodes` clears it).
   */
  nextNode: string | null;
  /** Every `setNextNode` target in call order since the last `resetNextNodes` (for the stack model). */
  pushed: string[];
  stopped: boolean;
  /** Extension actions (`api.*` calls) made in this execution; Cognigy allows 10 per execution. */
  actions: number;
}

/** Thrown by the action that goes over Cognigy's per-execution limit of extension actions. */
export class ExtensionActionLimitError extends Error {
  constructor(readonly limit: number) {
    super(`more than ${limit} extension actions (api.* calls) in one execution`);
    this.name = 'ExtensionActionLimitError';
  }
}

export interface NodeApiTarget {
  nodeId: string;
  input: Record<string, unknown>;
  context: Record<string, unknown>;
  profile: Record<string, unknown>;
  onOutput: (text: string, data: unknown) => void;
  onLog: (level: LogLevel, message: string) => void;
  /** Cognigy's "Extension actions" quota per node execution (docs/ai/administer/limitations.md). */
  maxActions?: number;
}

const LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cursor: Record<string, unknown> = target;
  for (const part of parts.slice(0, -1)) {
    const next = cursor[part];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) cursor[part] = {};
    cursor = cursor[part] as Record<string, unknown>;
  }
  cursor[parts[parts.length - 1] ?? key] = value;
}

function getPath(target: Record<string, unknown>, key: string): unknown {
  let cursor: unknown = target;
  for (const part of key.split('.')) {
    if (cursor === null || typeof cursor !== 'object') return undefined;
    cursor = (cursor as Record<string, unknown>)[part];
  }
  return cursor;
}

/** Values cross into Cognigy's storage as JSON; a node must not keep a live reference. */
function jsonCopy(value: unknown): unknown {
  return value === undefined ? undefined : (JSON.parse(JSON.stringify(value)) as unknown);
}

export function createNodeApi(target: NodeApiTarget): { api: FakeNodeApi; control: NodeApiControl } {
  const control: NodeApiControl = { nextNode: null, pushed: [], stopped: false, actions: 0 };
  const maxActions = target.maxActions ?? 10;
  const actions: FakeNodeApi = {
    say: (text, data) => target.onOutput(text ?? '', data ?? null),
    output: (text, data) => target.onOutput(text ?? '', data ?? null),
    log: (level, text) => target.onLog(LEVELS.includes(level as LogLevel) ? (level as LogLevel) : 'info', String(text)),
    addToContext: (key, value, mode) => {
      if (mode === 'array') {
        const current = getPath(target.context, key);
        setPath(target.context, key, Array.isArray(current) ? [...current, jsonCopy(value)] : [jsonCopy(value)]);
      } else setPath(target.context, key, jsonCopy(value));
    },
    addToInput: (key, value) => setPath(target.input, key, jsonCopy(value)),
    getContext: (key) => getPath(target.context, key),
    deleteContext: (key) => {
      delete target.context[key];
    },
    updateProfile: async (key, value) => {
      target.profile[key] = jsonCopy(value);
    },
    setNextNode: (nodeId) => {
      control.nextNode = nodeId;
      control.pushed.push(nodeId);
    },
    resetNextNodes: () => {
      control.nextNode = null;
      control.pushed = [];
    },
    stopExecution: () => {
      control.stopped = true;
    },
  };
  // Untrusted extensions run in a VM and every api.* call is an action sent to Cognigy: count them all.
  const api = Object.fromEntries(
    Object.entries(actions).map(([name, action]) => [
      name,
      (...args: unknown[]) => {
        control.actions += 1;
        if (control.actions > maxActions) throw new ExtensionActionLimitError(maxActions);
        return (action as (...a: unknown[]) => unknown)(...args);
      },
    ]),
  ) as unknown as FakeNodeApi;
  return { api, control };
}

import { createNodeDescriptor, type INodeDescriptor } from '@cognigy/extension-tools';
import type { INodeExecutionAPI, TNodeChildConfigs } from '@cognigy/extension-tools/build/interfaces/descriptor';
import { z } from 'zod';
import { CONNECTION_TYPE, ConnectionError } from './connection';
import { RelayCallError } from './relayClient';

/** `api.addToInput` works at run time but is missing from the 0.14 typings. */
export interface NodeApi extends INodeExecutionAPI {
  addToInput?: (key: string, value: unknown) => void;
}

export const BRAND_COLOR = '#FF7A00';
export const LOG_PREFIX = '[rce-handover]';

export const connectionField = {
  key: 'connection',
  type: 'connection',
  label: 'RCE Handover connection',
  description: 'The "RingCentral Engage (RCE) Handover" connection: the Engage settings, the Relay URL and the Relay API Key.',
  params: { connectionType: CONNECTION_TYPE, required: true },
} as const;

/** A branch node under a parent ("On X"): not editable, deletable, creatable or movable. */
export function childNodeDescriptor(params: { type: string; parentType: string; label: string; color?: string }): INodeDescriptor {
  return createNodeDescriptor({
    type: params.type,
    parentType: params.parentType,
    defaultLabel: params.label,
    constraints: {
      editable: false,
      deletable: false,
      creatable: false,
      movable: false,
      placement: { predecessor: { whitelist: [] } },
    },
    appearance: { color: params.color ?? BRAND_COLOR, textColor: 'white', variant: 'mini' },
  });
}

/** The "On Success" / "On Error" branch pair shared by the nodes that make one call and report back. */
export function successAndErrorChildren(parentType: string, types: { success: string; error: string }): [INodeDescriptor, INodeDescriptor] {
  return [
    childNodeDescriptor({ type: types.success, parentType, label: 'On Success', color: '#2E9E5B' }),
    childNodeDescriptor({ type: types.error, parentType, label: 'On Error', color: '#D64545' }),
  ];
}

/** Continue on the child branch of the given type. Returns false when the Flow lacks it (an old copy of the node). */
export function routeToChild(api: NodeApi, childConfigs: readonly TNodeChildConfigs[], childType: string): boolean {
  const child = childConfigs.find((c) => c.type === childType);
  if (!child) {
    api.log?.('warn', `${LOG_PREFIX} the node has no "${childType}" branch; re-create the node to get it.`);
    return false;
  }
  api.setNextNode?.(child.id);
  return true;
}

export interface NodeErrorInfo {
  code: string;
  message: string;
  field?: string;
}

/** Normalise anything thrown into a code + message that is safe to log and store. */
export function toNodeError(error: unknown): NodeErrorInfo {
  if (error instanceof RelayCallError || error instanceof ConnectionError) {
    return { code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) };
  }
  if (error instanceof NodeInputError) return { code: error.code, message: error.message };
  // Unknown errors may carry anything in their message; log only their kind.
  return { code: 'internal_error', message: `Unexpected ${error instanceof Error ? error.name : typeof error} in the node.` };
}

/** A problem with the node's own fields (e.g. an unknown Engage key in the profile mapping). */
export class NodeInputError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'NodeInputError';
  }
}

/** A simple identifier used as a context or input key. */
export function storageKey(value: unknown, fallback: string): string {
  return typeof value === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/.test(value.trim()) ? value.trim() : fallback;
}

export type StoreLocation = 'context' | 'input';

export function storeResult(api: NodeApi, location: StoreLocation, key: string, value: unknown): void {
  if (location === 'input') api.addToInput?.(key, value);
  else api.addToContext?.(key, value, 'simple');
}

export function nowIso(): string {
  return new Date().toISOString();
}

/*
 * Node config readers. Cognigy hands over whatever the Flow editor saved (older node versions
 * may lack newer fields), so every field falls back to its default instead of failing.
 */
export const configText = (fallback: string) => z.string().catch(fallback);
export const configRequiredText = (fallback: string) => z.string().trim().min(1).catch(fallback);
export const configToggle = (fallback: boolean) => z.boolean().catch(fallback);
export const configTextList = (fallback: string[]) =>
  z.preprocess(
    (v) => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : v),
    z.array(z.string()).catch(fallback),
  );
/** A whole number in [min, max]; text such as "5" (CognigyScript results are text) counts. */
export const configInt = (fallback: number, min: number, max: number) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v), z.number().int().min(min).max(max).catch(fallback));
export const configChoice = <const T extends readonly [string, ...string[]]>(options: T, fallback: T[number]) =>
  z.enum(options).catch(fallback);

/** Parse a node's config object; never throws (every field has a fallback). */
export function readConfig<S extends z.ZodObject>(schema: S, raw: unknown): z.output<S> {
  const value = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? raw : {};
  return schema.parse(value);
}

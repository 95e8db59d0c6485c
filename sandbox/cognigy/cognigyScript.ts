/**
 * A minimal CognigyScript resolver: `{{input.x}}`, `{{context.x}}`, `{{profile.x}}` and their
 * short forms `ci`, `cc`, `cp`, with dotted paths and numeric indices. Enough to run our
 * nodes' configs the way Cognigy hands them over (already resolved).
 *
 * Like Cognigy: a string that is exactly one expression keeps the value's type (objects stay
 * objects in JSON fields); inside longer text, objects are JSON-encoded and missing values
 * become the empty string.
 */

export interface ScriptScope {
  input: Record<string, unknown>;
  context: Record<string, unknown>;
  profile: Record<string, unknown>;
}

const WHOLE = /^\s*\{\{\s*([^{}]+?)\s*\}\}\s*$/u;
const ANY = /\{\{\s*([^{}]+?)\s*\}\}/gu;
const PATH = /^(input|context|profile|ci|cc|cp)((?:\.[A-Za-z_$][\w$]*|\[\d+\])*)$/u;

export function evaluateExpression(expression: string, scope: ScriptScope): unknown {
  const match = PATH.exec(expression.trim());
  if (!match) return undefined;
  const [, root = '', rest = ''] = match;
  let value: unknown =
    root === 'input' || root === 'ci' ? scope.input : root === 'context' || root === 'cc' ? scope.context : scope.profile;
  for (const part of rest.match(/\.[A-Za-z_$][\w$]*|\[\d+\]/gu) ?? []) {
    if (value === null || typeof value !== 'object') return undefined;
    const key = part.startsWith('.') ? part.slice(1) : part.slice(1, -1);
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

export function isSupportedExpression(expression: string): boolean {
  return PATH.test(expression.trim());
}

function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** Resolve one string. */
export function resolveText(text: string, scope: ScriptScope, keepType: boolean): unknown {
  const whole = WHOLE.exec(text);
  if (keepType && whole?.[1]) {
    const value = evaluateExpression(whole[1], scope);
    return value === undefined ? '' : value;
  }
  return text.replace(ANY, (_m, expression: string) => asText(evaluateExpression(expression, scope)));
}

/** Resolve every string inside a value (objects and arrays are copied, never mutated). */
export function resolveDeep(value: unknown, scope: ScriptScope, keepType: boolean): unknown {
  if (typeof value === 'string') return resolveText(value, scope, keepType);
  if (Array.isArray(value)) return value.map((item) => resolveDeep(item, scope, keepType));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveDeep(v, scope, keepType)]));
  }
  return value;
}

/** All `{{…}}` expressions in a value that this resolver cannot evaluate. */
export function unsupportedExpressions(value: unknown): string[] {
  const found: string[] = [];
  const visit = (v: unknown): void => {
    if (typeof v === 'string') {
      for (const m of v.matchAll(ANY)) if (m[1] && !isSupportedExpression(m[1])) found.push(m[1]);
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(visit);
  };
  visit(value);
  return found;
}

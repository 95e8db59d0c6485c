import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The Lua commands of the Redis store, one `.lua` file each under `commands/`. */
export const SCRIPT_NAMES = [
  'apply',
  'claim',
  'complete',
  'retry',
  'deadLetter',
  'findByEngage',
  'renew',
  'releaseOwner',
  'requeueDead',
  'purgeIdle',
  'takeBudget',
] as const;
export type ScriptName = (typeof SCRIPT_NAMES)[number];

const INCLUDE = /^--- @include "([\w/.-]+)"\s*$/gm;
const SOURCE_DIR = path.join('relay', 'src', 'store', 'redis', 'commands');

/**
 * Where the `.lua` files are: next to this module (tsx, or a `dist/` that `build:ts` copied them
 * into), else in the source tree above a compiled copy (the bench compiles to its own folder).
 */
export function commandsDir(from: string = __dirname): string {
  const beside = path.join(from, 'commands');
  if (existsSync(beside)) return beside;
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, SOURCE_DIR);
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) break;
  }
  throw new Error(`Redis store: Lua commands not found beside ${from} or in ${SOURCE_DIR} above it`);
}

/** A script's text with its `--- @include "includes/x"` lines replaced by those files (each at most once). */
export function loadScript(name: string, dir: string = commandsDir()): string {
  const included = new Set<string>();
  // Each include is expanded at most once, which also ends any include cycle.
  const expand = (file: string): string => {
    const text = readFileSync(path.join(dir, `${file}.lua`), 'utf8');
    return text.replace(INCLUDE, (_line, inc: string) => {
      if (included.has(inc)) return '';
      included.add(inc);
      return expand(inc);
    });
  };
  return expand(name);
}

export function loadAllScripts(): Record<ScriptName, string> {
  const dir = commandsDir();
  return Object.fromEntries(SCRIPT_NAMES.map((n) => [n, loadScript(n, dir)])) as Record<ScriptName, string>;
}

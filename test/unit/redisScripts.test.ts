import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { commandsDir, loadAllScripts, loadScript, SCRIPT_NAMES } from '../../relay/src/store/redis/scripts';

describe('Redis store Lua loader', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rce-lua-'));
    mkdirSync(path.join(dir, 'includes'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('replaces each include once, however often it is named', () => {
    writeFileSync(path.join(dir, 'includes', 'a.lua'), 'local function a() end');
    writeFileSync(path.join(dir, 'includes', 'b.lua'), '--- @include "includes/a"\nlocal function b() a() end');
    writeFileSync(path.join(dir, 'main.lua'), '--- @include "includes/a"\n--- @include "includes/b"\nreturn 1');
    const text = loadScript('main', dir);
    expect(text.match(/local function a\(\)/g)).toHaveLength(1);
    expect(text).toContain('local function b()');
    expect(text.indexOf('function a')).toBeLessThan(text.indexOf('function b'));
    expect(text).not.toContain('@include');
  });

  it('finds the commands in the source tree from a compiled copy elsewhere (the bench compiles to its own folder)', () => {
    expect(() => commandsDir(path.join(dir, 'elsewhere'))).toThrow(/Lua commands not found/);
    const repo = path.resolve(__dirname, '..', '..');
    expect(commandsDir(path.join(repo, 'somewhere', 'relay', 'src', 'store', 'redis'))).toBe(
      path.join(repo, 'relay', 'src', 'store', 'redis', 'commands'),
    );
  });

  it('every shipped script loads, states its KEYS/ARGV/result and has no include left', () => {
    const all = loadAllScripts();
    for (const name of SCRIPT_NAMES) {
      expect(all[name]).toMatch(/KEYS\[1\]/);
      expect(all[name]).toMatch(/Returns/);
      expect(all[name]).not.toContain('@include');
    }
  });
});

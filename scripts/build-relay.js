#!/usr/bin/env node
'use strict';
/**
 * Compiles the relay (contract/ + relay/src/) to dist/ with tsc, so production runs plain
 * JavaScript: `npm start` and `npm run doctor` never need tsx or TypeScript at run time.
 *
 *   node scripts/build-relay.js             clean build (npm run build)
 *   node scripts/build-relay.js --if-stale  build only when dist/ is missing or older than a source
 *                                          (prestart: a fresh clone still works with `npm start`;
 *                                          a built copy starts in well under a second)
 *
 * It also copies the non-TypeScript files the relay loads beside its modules (the Redis store's `.lua`
 * commands with their `includes/`), as they are laid out under relay/src.
 *
 * A copy without sources (the container image: dist/ and package files only) is never rebuilt.
 */
const { execFileSync } = require('node:child_process');
const { cpSync, existsSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const dist = path.join(root, 'dist');
const stamp = path.join(dist, '.build-stamp');
const entry = path.join(dist, 'relay', 'src', 'main.js');
// Files tsc does not emit but the relay reads beside its modules at run time (the Redis store's Lua).
const assets = ['relay/src/store/redis/commands'];
const inputs = ['contract', 'relay/src', 'tsconfig.json', 'tsconfig.build.json', 'package-lock.json'];

function newestMtimeMs(target) {
  const stats = statSync(target);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs; // a deleted or renamed file changes its directory's mtime
  for (const name of readdirSync(target)) newest = Math.max(newest, newestMtimeMs(path.join(target, name)));
  return newest;
}

function isStale() {
  if (!existsSync(path.join(root, 'relay', 'src'))) return false;
  if (!existsSync(entry) || !existsSync(stamp)) return true;
  const builtAt = statSync(stamp).mtimeMs;
  return inputs.some((input) => existsSync(path.join(root, input)) && newestMtimeMs(path.join(root, input)) > builtAt);
}

function build() {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    process.stderr.write(
      'dist/ is missing or older than the sources, and TypeScript is not installed: run `npm ci` (with dev dependencies), then `npm run build`.\n',
    );
    process.exit(1);
  }
  rmSync(dist, { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
  for (const asset of assets) cpSync(path.join(root, asset), path.join(dist, asset), { recursive: true });
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
}

if (!process.argv.includes('--if-stale') || isStale()) build();

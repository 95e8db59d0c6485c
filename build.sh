#!/usr/bin/env bash
# Builds the uploadable Cognigy extension: rce-handover.tar.gz in the repo root, holding
# build/module.js, package.json, package-lock.json, README.md and icon.png at its root.
set -euo pipefail
cd "$(dirname "$0")"

STAGE=.extension-stage
TARBALL=rce-handover.tar.gz
MAX_BYTES=$((2 * 1024 * 1024))

rm -rf "$STAGE" "$TARBALL"
mkdir -p "$STAGE/build"

# One self-contained CommonJS file: extension-tools, zod, axios and the contract are bundled,
# so the manifest has no runtime dependencies and Cognigy has nothing to install.
npx --no-install esbuild extension/src/module.ts \
  --bundle --platform=node --target=node18 --format=cjs \
  --legal-comments=none --log-level=warning \
  --outfile="$STAGE/build/module.js"

# Cognigy loads require("build/module.js").default in a sandbox; plain built-in names
# ("crypto", not "node:crypto") work with every require shim. Fail if anything non-built-in
# would still be required at run time.
node - "$STAGE/build/module.js" <<'NODE'
const fs = require('fs');
const { builtinModules } = require('module');
const file = process.argv[2];
const code = fs.readFileSync(file, 'utf8').replace(/require\("node:([a-z_/]+)"\)/g, 'require("$1")');
fs.writeFileSync(file, code);
const external = [...code.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((name) => !builtinModules.includes(name));
if (external.length > 0) {
  console.error(`build/module.js requires non-built-in modules: ${[...new Set(external)].join(', ')}`);
  process.exit(1);
}
const extension = require(require('path').resolve(file)).default;
if (!extension || !Array.isArray(extension.nodes) || extension.nodes.length === 0) {
  console.error('build/module.js has no default export with nodes');
  process.exit(1);
}
NODE

npx --no-install tsx icons/render.ts "$STAGE/icon.png"
cp extension/manifest/package.json extension/manifest/package-lock.json extension/README.md "$STAGE/"

tar czf "$TARBALL" -C "$STAGE" build/module.js package.json package-lock.json README.md icon.png

BYTES=$(wc -c < "$TARBALL" | tr -d ' ')
echo "$TARBALL: $BYTES bytes ($(( (BYTES + 1023) / 1024 )) KiB)"
if [ "$BYTES" -ge "$MAX_BYTES" ]; then
  echo "$TARBALL is larger than 2 MB" >&2
  exit 1
fi

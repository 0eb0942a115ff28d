#!/usr/bin/env bash
# scripts/fetch-assets.sh - install the pinned npm packages whose files the build
# embeds (third_party/swagger-ui: swagger-ui-dist, served at GET /docs).
#
# Idempotent: runs `npm ci` only when node_modules/swagger-ui-dist is missing or
# its version differs from the one pinned in package-lock.json.  This is the only
# step that reaches the network (the npm registry); the build and the server
# never download anything.  Install scripts are off (see third_party/swagger-ui/.npmrc).
set -euo pipefail
cd "$(dirname "$0")/.."

dir=third_party/swagger-ui
pkg=swagger-ui-dist

if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "fetch-assets: npm and node are needed to install $dir (npm package $pkg);" \
       "install them (Debian: apt-get install nodejs npm) and run again" >&2
  exit 1
fi

# version_of FILE KEY... - prints the JSON value at FILE's KEY path (nothing if
# FILE or the key is missing; fails on a broken file).
version_of() {
  node -e 'const [f, ...keys] = process.argv.slice(1);
           let v;
           try { v = JSON.parse(require("fs").readFileSync(f, "utf8")); }
           catch (e) { if (e.code === "ENOENT") process.exit(0);
                       console.error(f + ": " + e.message); process.exit(1); }
           for (const k of keys) v = v == null ? undefined : v[k];
           if (typeof v === "string") console.log(v);' "$@"
}
want=$(version_of "$dir/package-lock.json" packages "node_modules/$pkg" version)
if [[ -z "$want" ]]; then
  echo "fetch-assets: $dir/package-lock.json does not pin $pkg" >&2
  exit 1
fi
have=$(version_of "$dir/node_modules/$pkg/package.json" version 2>/dev/null || true)

if [[ "$have" == "$want" ]]; then
  exit 0
fi
echo "fetch-assets: installing $pkg $want into $dir/node_modules${have:+ (had $have)}" >&2
npm ci --prefix "$dir" --no-audit --no-fund --ignore-scripts
have=$(version_of "$dir/node_modules/$pkg/package.json" version)
if [[ "$have" != "$want" ]]; then
  echo "fetch-assets: npm ci left $pkg ${have:-missing}, expected $want" >&2
  exit 1
fi

#!/usr/bin/env bash
# axe-core for the browser tests' accessibility checks: the npm package's axe.min.js (MPL-2.0),
# installed into .cache/axe-core (tests/axe_support.py looks there). Does nothing when that
# version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

AXE_VERSION=4.10.3
dest=.cache/axe-core
installed="$dest/node_modules/axe-core/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$AXE_VERSION\"" "$installed"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to install axe-core (apt-get install npm)" >&2
  exit 1
fi
mkdir -p "$dest"
npm install --prefix "$dest" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  "axe-core@$AXE_VERSION"

#!/usr/bin/env bash
# install-npm-package.sh PACKAGE VERSION: one npm package, for the tests or a bench, into
# .cache/PACKAGE (never into the repository). Does nothing when that version is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

package=$1
version=$2
dest=.cache/$package
installed="$dest/node_modules/$package/package.json"
if [ -f "$installed" ] && grep -q "\"version\": \"$version\"" "$installed"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is needed to install $package (apt-get install npm)" >&2
  exit 1
fi
mkdir -p "$dest"
npm install --prefix "$dest" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
  "$package@$version"

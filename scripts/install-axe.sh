#!/usr/bin/env bash
# axe-core for the browser tests' accessibility checks: the npm package's axe.min.js (MPL-2.0),
# installed into .cache/axe-core (tests/axe_support.py looks there).
exec "$(dirname "$0")/install-npm-package.sh" axe-core 4.10.3

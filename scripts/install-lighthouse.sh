#!/usr/bin/env bash
# Lighthouse for bench/lighthouse_bench.py (Apache-2.0), installed into .cache/lighthouse. Version 12
# runs on Node.js 18 and 20; 13 needs Node.js 22.
exec "$(dirname "$0")/install-npm-package.sh" lighthouse 12.8.2

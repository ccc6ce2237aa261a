#!/bin/sh
# Rebuilds static/vendor/age.js byte for byte from the locked packages.
#   cd web && npm ci && sh build.sh
set -eu
cd "$(dirname "$0")"
./node_modules/.bin/esbuild entry.js \
  --bundle --minify --format=esm --target=es2020 \
  --legal-comments=none --charset=utf8 \
  --outfile=../static/vendor/age.js

#!/usr/bin/env bash
# Compiles src/ and test/ into dist/ (npm run build; npm ci and npm test run it).
# Incremental: tsc keeps what it learnt of the last build in dist/.tsbuildinfo
# and, with nothing changed, checks in seconds instead of compiling everything
# again, which matters since `npm ci` builds and `npm test` then builds again.
# Deleting dist/ (or dist/.tsbuildinfo) gives a full build.
set -euo pipefail
cd "$(dirname "$0")/.."

# tsc does not notice an output deleted by hand (its record says the source
# is built): when any source's output is missing, it forgets the record.
if [[ -f dist/.tsbuildinfo ]]; then
  while IFS= read -r -d '' src; do
    if [[ ! -e "dist/${src%.ts}.js" ]]; then
      rm -f dist/.tsbuildinfo
      break
    fi
  done < <(find src test -name '*.ts' ! -name '*.d.ts' -print0)
fi

node_modules/.bin/tsc -p . --incremental --tsBuildInfoFile dist/.tsbuildinfo

# A compiled file whose source was deleted or renamed would stay in dist/, and
# ava would still run a stale test: remove every output without its source.
while IFS= read -r -d '' out; do
  base="${out#dist/}"
  base="${base%.map}"
  base="${base%.js}"
  [[ -e "$base.ts" || -e "$base.js" ]] || rm -f "$out"
done < <(find dist/src dist/test -type f \( -name '*.js' -o -name '*.js.map' \) -print0)

# The generated Thrift code is JavaScript already, and the dashboard's page is static.
mkdir -p dist/src/gen
cp src/gen/*.js dist/src/gen/
rm -rf dist/src/dashboard/static
cp -r src/dashboard/static dist/src/dashboard/

#!/usr/bin/env bash
# Regenerates src/gen/ from idl/kv.thrift with the Apache Thrift compiler.
# The output is committed, so users never need the compiler; run this after
# changing the IDL. Needs `thrift` 0.17+ on PATH (Debian: thrift-compiler).
#
# `js:node,es6,ts` is used because plain `js:node` emits calls to thrift.Q,
# which the 0.24 runtime no longer ships.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/src/gen}"
if ! command -v thrift >/dev/null 2>&1; then
  echo "gen: the thrift compiler is not installed (Debian: apt-get install thrift-compiler)" >&2
  exit 2
fi
mkdir -p "$out"
rm -f "$out"/*.js "$out"/*.d.ts
thrift --gen js:node,es6,ts -out "$out" "$root/idl/kv.thrift"

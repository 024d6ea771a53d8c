#!/usr/bin/env bash
# The wire fuzzer: scripts/fuzz.sh [--frames N] [--idle-connections N] [--seed S] [--cluster FILE] [--out FILE]
# Without --cluster it starts (and afterwards removes) its own four-node cluster. --help lists the options.
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/fuzz.js" "$@"

#!/usr/bin/env bash
# A key range out to a file, a file into a cluster: scripts/copy.sh export|import FILE [options] (--help)
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
exec node "$root/dist/src/cli/copy.js" "$@"

#!/usr/bin/env bash
# npm start: brings the cluster up unless it already runs, then opens the console.
# The nodes keep running after the console exits; stop them with scripts/terminate_servers.sh.
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build
if [ -f "$cluster" ]; then
  count="$(node_count)"
  for id in $(seq 0 $((count - 1))); do
    running_pid "$id" >/dev/null || "$root/scripts/server.sh" "$id"
  done
else
  "$root/scripts/server.sh"
fi
exec "$root/scripts/client.sh" "$@"

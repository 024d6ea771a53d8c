#!/usr/bin/env bash
# Starts the cluster's nodes in the background.
#   scripts/server.sh        start all four nodes (creates the cluster file on first use)
#   scripts/server.sh N      start only node N of the existing cluster (e.g. after a crash)
# Environment: KV_DATA_DIR (default ./data) holds cluster.json, node-N.pid,
# node-N.sqlite and logs/node-N.log; KV_BASE_PORT (default 9000) sets the
# ports of a new cluster: node N listens on KV_BASE_PORT+N. KV_LOG_FORMAT=json
# makes the nodes log one JSON object per line (time, level, node, event).
set -euo pipefail
source "$(dirname "$0")/common.sh"
require_build

if [ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ]; then
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit 0
fi

mkdir -p "$data/logs"
if [ ! -f "$cluster" ]; then
  if [ -n "${1:-}" ]; then
    echo "no cluster at $cluster yet: run scripts/server.sh without a node number first" >&2
    exit 1
  fi
  node "$root/dist/src/cli/make-cluster.js" "$cluster" "$base_port"
  echo "created $cluster (nodes on ports $base_port..$((base_port + 3)))"
fi

count="$(node_count)"
if [ -n "${1:-}" ]; then
  if ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -ge "$count" ]; then
    echo "no node $1: node ids are 0..$((count - 1))" >&2
    exit 1
  fi
  ids=("$1")
else
  ids=($(seq 0 $((count - 1))))
fi

for id in "${ids[@]}"; do
  if pid="$(running_pid "$id")"; then
    echo "node $id is already running (pid $pid); stop it first with scripts/terminate_servers.sh" >&2
    exit 1
  fi
done

# Each node gets a session of its own (setsid), so closing the terminal or
# pressing Ctrl-C in the console does not reach it; only terminate_servers.sh does.
detach=()
command -v setsid >/dev/null 2>&1 && detach=(setsid)
pids=()
for id in "${ids[@]}"; do
  "${detach[@]}" node "${node_v8_flags[@]}" "$node_main" --cluster "$cluster" --id "$id" --data "$data" \
    >> "$data/logs/node-$id.log" 2>&1 < /dev/null &
  echo $! > "$data/node-$id.pid"
  pids+=("$!")
done

join() { local IFS=,; echo "$*"; }
if ! node "$root/dist/src/cli/wait-ready.js" --cluster "$cluster" --ids "$(join "${ids[@]}")" --pids "$(join "${pids[@]}")"; then
  for id in "${ids[@]}"; do
    echo "--- last lines of $data/logs/node-$id.log" >&2
    tail -n 5 "$data/logs/node-$id.log" >&2 || true
  done
  exit 1
fi
echo "logs in $data/logs; stop with scripts/terminate_servers.sh"

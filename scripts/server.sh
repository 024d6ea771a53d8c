#!/usr/bin/env bash
# Starts the cluster's nodes in the background.
#   scripts/server.sh        start all four nodes (creates the cluster file on first use)
#   scripts/server.sh N      start only node N of the existing cluster (e.g. after a crash)
#   scripts/server.sh --join [--host H] [--port P] [--token T]
#                            start a new node (the next free id), join it to the ring
#                            and return once it is NORMAL; the port defaults to
#                            KV_BASE_PORT+id, the token to the median key of the
#                            busiest node's primary range (a join takes half of it)
#   scripts/server.sh --replace N [--host H] [--port P]
#                            start a new node (the next free id) that takes dead
#                            node N's token and ranges: it takes writes at once,
#                            copies each range from every surviving replica, and
#                            returns once it is NORMAL and node N has LEFT; refused
#                            while node N answers
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

# Starts node $1 in the background with the rest of the arguments, in a session of its own, with its pid file.
start_node() {
  local id="$1"
  shift
  "${detach[@]}" env "${node_env[@]}" node "${node_v8_flags[@]}" "$node_main" --cluster "$cluster" --id "$id" --data "$data" "$@" \
    >> "$data/logs/node-$id.log" 2>&1 < /dev/null &
  echo $! > "$data/node-$id.pid"
}
# Each node gets a session of its own (setsid), so closing the terminal or
# pressing Ctrl-C in the console does not reach it; only terminate_servers.sh does.
detach=()
command -v setsid >/dev/null 2>&1 && detach=(setsid)

# Follows the operation of new node $1 (pid $2) with the helper command that follows; on failure, shows the end of its log.
follow_new_node() {
  local id="$1" pid="$2"
  shift 2
  if ! node "$@"; then
    echo "--- last lines of $data/logs/node-$id.log" >&2
    tail -n 5 "$data/logs/node-$id.log" >&2 || true
    if kill -0 "$pid" 2>/dev/null; then
      echo "node $id keeps running (pid $pid): once the cause is fixed, restart it with scripts/server.sh $id and it goes on with its operation" >&2
    fi
    exit 1
  fi
  echo "log in $data/logs/node-$id.log; stop with scripts/terminate_servers.sh"
  exit 0
}

# --host and --port of a new node, into $host and $port; $usage names the command.
new_node_address() {
  host=127.0.0.1 port=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --host) host="${2:?--host needs a value}"; shift 2 ;;
      --port) port="${2:?--port needs a value}"; shift 2 ;;
      *) echo "unknown option $1 (usage: $usage)" >&2; exit 1 ;;
    esac
  done
}

mkdir -p "$data/logs"
if [ "${1:-}" = "--replace" ]; then
  dead="${2:-}"
  usage="scripts/server.sh --replace N [--host H] [--port P]"
  [[ "$dead" =~ ^[0-9]+$ ]] || { echo "--replace needs the id of the dead node (usage: $usage)" >&2; exit 1; }
  shift 2
  [ -f "$cluster" ] || { echo "no cluster at $cluster: start one with scripts/server.sh first" >&2; exit 1; }
  new_node_address "$@"
  id="$(node "$root/dist/src/cli/replace.js" plan --cluster "$cluster" --node "$dead")" || exit 1
  port="${port:-$((base_port + id))}"
  if pid="$(running_pid "$id")"; then
    echo "node $id is already running (pid $pid)" >&2
    exit 1
  fi
  start_node "$id" --host "$host" --port "$port" --replace-node "$dead"
  pid="$(cat "$data/node-$id.pid")"
  follow_new_node "$id" "$pid" "$root/dist/src/cli/replace.js" wait --cluster "$cluster" --host "$host" --port "$port" --pid "$pid" --id "$id" --node "$dead"
fi
if [ "${1:-}" = "--join" ]; then
  shift
  [ -f "$cluster" ] || { echo "no cluster at $cluster to join: start one with scripts/server.sh first" >&2; exit 1; }
  host=127.0.0.1 port="" token=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --host) host="${2:?--host needs a value}"; shift 2 ;;
      --port) port="${2:?--port needs a value}"; shift 2 ;;
      --token) token=(--token "${2:?--token needs a value}"); shift 2 ;;
      *) echo "unknown option $1 (usage: scripts/server.sh --join [--host H] [--port P] [--token T])" >&2; exit 1 ;;
    esac
  done
  plan="$(node "$root/dist/src/cli/join.js" plan --cluster "$cluster" "${token[@]}")" || exit 1
  read -r id token_hex <<< "$plan"
  port="${port:-$((base_port + id))}"
  if pid="$(running_pid "$id")"; then
    echo "node $id is already running (pid $pid)" >&2
    exit 1
  fi
  start_node "$id" --host "$host" --port "$port" --join-token-hex "$token_hex"
  pid="$(cat "$data/node-$id.pid")"
  follow_new_node "$id" "$pid" "$root/dist/src/cli/join.js" wait --cluster "$cluster" --host "$host" --port "$port" --pid "$pid" --id "$id"
fi

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
  # A node that joined is not in the cluster file; its data file says it exists.
  if ! [[ "$1" =~ ^[0-9]+$ ]] || { [ "$1" -ge "$count" ] && [ ! -f "$data/node-$1.sqlite" ]; }; then
    echo "no node $1: node ids are 0..$((count - 1)) and those that joined" >&2
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

pids=()
for id in "${ids[@]}"; do
  start_node "$id"
  pids+=("$(cat "$data/node-$id.pid")")
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

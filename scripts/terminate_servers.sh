#!/usr/bin/env bash
# Stops every node with a pid file in $KV_DATA_DIR (default ./data), node-N.pid
# for any id N (nodes that joined after the first four too): SIGTERM first,
# SIGKILL for any still running after KV_STOP_TIMEOUT seconds (default 10).
# Only those pids are touched, and only while they are this project's nodes,
# never processes found by name.
#   scripts/terminate_servers.sh           stop the nodes, keep the data
#   scripts/terminate_servers.sh --clean   stop them and delete the data directory
set -euo pipefail
source "$(dirname "$0")/common.sh"

clean=0
case "${1:-}" in
  --clean) clean=1 ;;
  "") ;;
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  *) echo "unknown option $1 (use --clean)" >&2; exit 2 ;;
esac

timeout_s="${KV_STOP_TIMEOUT:-10}"
stopped=()
shopt -s nullglob
for pidfile in "$data"/node-*.pid; do
  id="${pidfile##*/node-}"; id="${id%.pid}"
  [[ "$id" =~ ^[0-9]+$ ]] || continue  # not a node's pid file
  if pid="$(running_pid "$id")"; then
    kill -TERM "$pid" 2>/dev/null || true
    stopped+=("$id:$pid")
  else
    rm -f "$pidfile"
  fi
done

deadline=$((SECONDS + timeout_s))
for entry in "${stopped[@]}"; do
  id="${entry%%:*}"; pid="${entry##*:}"
  while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    echo "node $id (pid $pid) did not stop in ${timeout_s}s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  else
    echo "node $id (pid $pid) stopped"
  fi
  rm -f "$data/node-$id.pid"
done
[ "${#stopped[@]}" -gt 0 ] || echo "no running nodes found in $data"

if [ "$clean" = 1 ]; then
  if [ ! -e "$data" ]; then
    echo "$data does not exist; nothing to delete"
  elif [ -f "$cluster" ] || [ -d "$data/logs" ]; then
    rm -rf "$data"
    echo "deleted $data"
  else
    echo "$data does not look like a cluster data directory; not deleting it" >&2
  fi
fi

#!/usr/bin/env bash
# Puts the data files of snapshot NAME (written by scripts/admin.sh snapshot)
# back in place for the nodes of $KV_DATA_DIR (default ./data), while those
# nodes are stopped. Each file replaced is kept beside it, never deleted:
# node-N.sqlite.replaced-TIME, with its -wal and -shm files.
#   scripts/restore.sh NAME      every node the snapshot holds a file for
#   scripts/restore.sh NAME N    node N only
# Then start the nodes (scripts/server.sh). Each node put back catches up
# before it serves reads (it takes writes meanwhile): one put back alone
# from the others, which hold what it acknowledged since the snapshot; the
# nodes of a whole cluster put back compare with each other, then serve.
# README, Backups, says when a restore is safe.
set -euo pipefail
source "$(dirname "$0")/common.sh"

case "${1:-}" in
  -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
  "") echo "usage: scripts/restore.sh NAME [N] (scripts/restore.sh --help)" >&2; exit 2 ;;
esac
name="$1"
only="${2:-}"
[ "$#" -le 2 ] || { echo "restore takes a snapshot's name and at most one node id" >&2; exit 2; }
# The names admin.sh snapshot takes: no path separators, not hidden.
[[ "$name" =~ ^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$ ]] || { echo "\"$name\" is not a snapshot name" >&2; exit 2; }
[ -z "$only" ] || [[ "$only" =~ ^[0-9]+$ ]] || { echo "expected a node id, got \"$only\"" >&2; exit 2; }
snap="$data/snapshots/$name"
[ -d "$snap" ] || { echo "there is no snapshot $name in $data/snapshots" >&2; exit 1; }

ids=()
shopt -s nullglob
if [ -n "$only" ]; then
  [ -f "$snap/node-$only.sqlite" ] || { echo "snapshot $name holds no file of node $only" >&2; exit 1; }
  ids=("$only")
else
  for f in "$snap"/node-*.sqlite; do
    id="${f##*/node-}"; id="${id%.sqlite}"
    [[ "$id" =~ ^[0-9]+$ ]] && ids+=("$id")
  done
  [ "${#ids[@]}" -gt 0 ] || { echo "snapshot $name holds no node's file" >&2; exit 1; }
fi

# Every node checked before any file moves: a running node would go on writing the file it has open.
for id in "${ids[@]}"; do
  if pid="$(running_pid "$id")"; then
    echo "node $id is running (pid $pid); stop it first (scripts/terminate_servers.sh); nothing was restored" >&2
    exit 1
  fi
done

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
for id in "${ids[@]}"; do
  file="$data/node-$id.sqlite"
  kept=""
  for part in "" -wal -shm; do
    if [ -e "$file$part" ]; then
      mv -- "$file$part" "$file.replaced-$stamp$part"
      kept="$file.replaced-$stamp"
    fi
  done
  cp -- "$snap/node-$id.sqlite" "$file"
  # The node catches up from its peers before it serves reads, then removes this mark (README, Backups).
  : > "$data/node-$id.restored"
  echo "node $id: restored from snapshot $name${kept:+; the file it replaced is kept as $kept}"
done
echo "start the nodes (scripts/server.sh): each catches up from the others before it serves reads"

# Shared by the scripts: paths and pid-file helpers. Source it, don't run it.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data="${KV_DATA_DIR:-./data}"
# Absolute, without creating it: only server.sh creates the data directory.
data="$(realpath -m -- "$data")"
cluster="$data/cluster.json"
base_port="${KV_BASE_PORT:-9000}"
node_main="$root/dist/src/node/main.js"
# V8 flags for node processes: the same as NODE_V8_FLAGS in src/node/v8-flags.ts (a unit test compares them).
node_v8_flags=(--max-semi-space-size=4 --heap-growing-percent=100 --expose-gc)
# Environment for node processes: the same as NODE_ENV in src/node/v8-flags.ts (a unit test compares them).
node_env=(MALLOC_ARENA_MAX=2)

require_build() {
  if [ ! -f "$node_main" ]; then
    echo "the project is not built yet: run 'npm install' first" >&2
    exit 1
  fi
}

# Prints the pid of node $1 if it is running (and really is one of our nodes).
running_pid() {
  local pidfile="$data/node-$1.pid" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  # Guard against a recycled pid: the process must be a node of this project.
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "dist/src/node/main.js" || return 1
  echo "$pid"
}

node_count() {
  node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).nodes.length)' "$cluster"
}

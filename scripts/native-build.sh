#!/usr/bin/env bash
# Builds the two SQLite drivers (better-sqlite3 and sqlite3) side by side,
# run by `npm install` / `npm ci` as this package's own install script.
#
# Why not leave it to npm: npm runs its dependencies' install scripts one at
# a time when the machine has two cores (it keeps one core free), and each
# driver, when no prebuilt binary can be downloaded, compiles its own copy of
# SQLite's one-file amalgamation, which make cannot split over cores. So
# package.json's allowScripts denies the two scripts and this runs each
# package's own install script (prebuild-install, else node-gyp), both at
# once: about half the wait on two cores.
#
# An npm that does not know allowScripts (npm 10 and older) has already run
# the two scripts itself; a driver that loads is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# The longest a driver's build may take before it is given up, seconds.
BUILD_SECONDS_MAX=1200

loads() {
  case "$1" in
    better-sqlite3) node -e "new (require('better-sqlite3'))(':memory:').close()" ;;
    sqlite3) node -e "require('sqlite3')" ;;
  esac
}

pending=()
for pkg in better-sqlite3 sqlite3; do
  [ -d "node_modules/$pkg" ] || { echo "native-build: node_modules/$pkg is missing; run npm install" >&2; exit 1; }
  loads "$pkg" >/dev/null 2>&1 || pending+=("$pkg")
done
[ "${#pending[@]}" -eq 0 ] && exit 0

logs="$(mktemp -d "${TMPDIR:-/tmp}/ringkv-native-build.XXXXXX")"
trap 'rm -rf "$logs"' EXIT
echo "native-build: building ${pending[*]} (from source when no prebuilt binary downloads: a few minutes)"
pids=()
# timeout runs each build in a process group of its own, which a Ctrl-C at
# the terminal or a kill of this script's group does not reach: pass the
# signal on to each timeout, which hands it to its whole group, so that no
# compiler outlives the install.
stop_builds() {
  trap - INT TERM HUP
  echo "native-build: stopped; stopping the builds" >&2
  [ "${#pids[@]}" -eq 0 ] || kill -TERM "${pids[@]}" 2>/dev/null || true
  wait || true
  exit 1
}
trap stop_builds INT TERM HUP
for pkg in "${pending[@]}"; do
  (cd "node_modules/$pkg" && exec timeout "$BUILD_SECONDS_MAX" npm run install >"$logs/$pkg.log" 2>&1) &
  pids+=("$!")
done

failed=0
for i in "${!pending[@]}"; do
  pkg="${pending[$i]}"
  if wait "${pids[$i]}" && loads "$pkg" >/dev/null 2>&1; then
    echo "native-build: $pkg built"
  else
    failed=1
    echo "native-build: $pkg did not build; the end of its log:" >&2
    tail -n 30 "$logs/$pkg.log" >&2
  fi
done
exit "$failed"

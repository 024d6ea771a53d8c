#!/usr/bin/env bash
# Makes the TLS files of a test or small cluster with openssl (README, TLS):
#   scripts/make-certs.sh [DIR] [--nodes N] [--days D] [--hosts H0,H1,...] [--ca CADIR] [--expired]
#   scripts/make-certs.sh [DIR] --cluster FILE [--days D]
# DIR (default: $KV_DATA_DIR/certs, or certs/ beside FILE) gets
#   ca.pem, ca-key.pem             a new CA (kept when DIR already has one, so nodes can be added later)
#   node-I.pem, node-I-key.pem     one pair per node, for serving and for internode links
#   client.pem, client-key.pem     the pair clients (console, bench, inspector) present
# Node certificates name 127.0.0.1 and localhost, plus node I's entry of --hosts.
# --ca CADIR signs with the CA of another folder (its key stays there);
# --expired makes leaf certificates whose validity ended a day ago, to test
# that they are refused. --cluster FILE takes the nodes and their hosts from
# a cluster file and turns TLS on in it: it adds the "tls" fields that name
# the files just made (a node's running process reads them when it restarts).
# Keys are EC P-256: their handshakes cost little.
set -euo pipefail
source "$(dirname "$0")/common.sh"

usage() {
  echo "usage: scripts/make-certs.sh [DIR] [--nodes N] [--days D] [--hosts H0,H1,...] [--ca CADIR] [--expired] [--cluster FILE]" >&2
  exit 2
}

dir=""
cluster_file=""
nodes=4
days=825
hosts=""
ca_dir=""
expired=0
dir_given=0
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) [ $# -ge 2 ] || usage; nodes="$2"; shift 2 ;;
    --days) [ $# -ge 2 ] || usage; days="$2"; shift 2 ;;
    --hosts) [ $# -ge 2 ] || usage; hosts="$2"; shift 2 ;;
    --ca) [ $# -ge 2 ] || usage; ca_dir="$2"; shift 2 ;;
    --expired) expired=1; shift ;;
    --cluster) [ $# -ge 2 ] || usage; cluster_file="$2"; shift 2 ;;
    -h|--help) usage ;;
    -*) echo "unknown option $1" >&2; usage ;;
    *) [ "$dir_given" = 0 ] || usage; dir="$1"; dir_given=1; shift ;;
  esac
done
if [ -n "$cluster_file" ]; then
  [ -f "$cluster_file" ] || { echo "no cluster file $cluster_file" >&2; exit 1; }
  [ -n "$dir" ] || dir="$(dirname "$cluster_file")/certs"
  nodes="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).nodes.length)' "$cluster_file")"
  hosts="$(node -e 'const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log([...c.nodes].sort((a, b) => a.id - b.id).map((n) => n.host).join(","))' "$cluster_file")"
fi
[ -n "$dir" ] || dir="$data/certs"
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || { echo "--nodes must be a positive whole number" >&2; exit 2; }
[[ "$days" =~ ^[1-9][0-9]*$ ]] || { echo "--days must be a positive whole number" >&2; exit 2; }
command -v openssl >/dev/null || { echo "openssl is needed to make certificates" >&2; exit 1; }
IFS=',' read -r -a host_list <<< "$hosts"

mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
umask 077

newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

# The CA: from --ca, the one DIR already holds, or a new one.
if [ -n "$ca_dir" ]; then
  [ -f "$ca_dir/ca.pem" ] && [ -f "$ca_dir/ca-key.pem" ] || { echo "$ca_dir has no ca.pem and ca-key.pem" >&2; exit 1; }
  ca_key="$ca_dir/ca-key.pem"
  if [ "$(realpath "$ca_dir")" != "$(realpath "$dir")" ]; then cp "$ca_dir/ca.pem" "$dir/ca.pem"; fi
  echo "signing with the CA of $ca_dir"
elif [ -f "$dir/ca.pem" ] && [ -f "$dir/ca-key.pem" ]; then
  ca_key="$dir/ca-key.pem"
  echo "keeping the CA already in $dir"
else
  ca_key="$dir/ca-key.pem"
  openssl req -x509 "${newkey[@]}" -keyout "$ca_key" -out "$dir/ca.pem" -days "$days" -subj "/CN=ringkv cluster CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  echo "wrote $dir/ca.pem and $dir/ca-key.pem (the CA key signs new certificates: keep it off the nodes)"
fi

# `openssl ca` takes explicit validity dates (x509 -days cannot go back in time).
cat > "$work/ca.cnf" <<EOF
[ca]
default_ca = local
[local]
database = $work/index.txt
new_certs_dir = $work
serial = $work/serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
EOF
: > "$work/index.txt"
openssl rand -hex 16 > "$work/serial"

# YYMMDDHHMMSSZ, $1 seconds from now.
stamp() { date -u -d "@$(( $(date +%s) + $1 ))" +%y%m%d%H%M%SZ; }
if [ "$expired" = 1 ]; then
  start="$(stamp $(( -(days + 1) * 86400 )))"; end="$(stamp -86400)"
else
  # An hour back, so that a node whose clock is a little behind accepts it.
  start="$(stamp -3600)"; end="$(stamp $(( days * 86400 )))"
fi

# sign NAME SUBJECT EXTENSIONS: makes NAME.pem and NAME-key.pem in DIR.
sign() {
  local name="$1" subject="$2" ext="$3"
  openssl req -new "${newkey[@]}" -keyout "$dir/$name-key.pem" -out "$work/$name.csr" -subj "$subject" 2>/dev/null
  printf '%s\n' "$ext" > "$work/$name.ext"
  openssl ca -batch -config "$work/ca.cnf" -cert "$dir/ca.pem" -keyfile "$ca_key" -in "$work/$name.csr" -out "$work/$name.full" \
    -startdate "$start" -enddate "$end" -extfile "$work/$name.ext" 2>"$work/$name.log" || { cat "$work/$name.log" >&2; exit 1; }
  # Only the PEM block: `openssl ca` puts a text dump before it.
  openssl x509 -in "$work/$name.full" -out "$dir/$name.pem"
  echo "wrote $dir/$name.pem and $dir/$name-key.pem ($(openssl x509 -in "$dir/$name.pem" -noout -enddate))"
}

leaf="basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature"
for ((i = 0; i < nodes; i++)); do
  san="IP:127.0.0.1,DNS:localhost"
  h="${host_list[$i]:-}"
  if [ "$h" = 127.0.0.1 ] || [ "$h" = localhost ]; then h=""; fi
  if [[ "$h" =~ ^[0-9.]+$|: ]]; then san="$san,IP:$h"; elif [ -n "$h" ]; then san="$san,DNS:$h"; fi
  sign "node-$i" "/CN=ringkv node $i" "$leaf
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san"
done
sign client "/CN=ringkv client" "$leaf
extendedKeyUsage=clientAuth"

if [ -n "$cluster_file" ]; then
  node -e '
    const fs = require("fs"), path = require("path");
    const [file, certs] = process.argv.slice(1);
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    const rel = (name) => path.relative(path.dirname(path.resolve(file)), path.resolve(certs, name));
    c.tls = { ca: rel("ca.pem"), cert: rel("client.pem"), key: rel("client-key.pem") };
    for (const n of c.nodes) n.tls = { cert: rel(`node-${n.id}.pem`), key: rel(`node-${n.id}-key.pem`) };
    fs.writeFileSync(file, JSON.stringify(c, null, 2) + "\n");
    fs.chmodSync(file, 0o600); // it holds the cluster secret
  ' "$cluster_file" "$dir"
  echo "turned TLS on in $cluster_file: restart the nodes (scripts/terminate_servers.sh, then scripts/server.sh)"
  exit 0
fi
echo "for the cluster file (paths relative to its folder; see README, TLS):"
echo "  \"tls\": { \"ca\": \"certs/ca.pem\", \"cert\": \"certs/client.pem\", \"key\": \"certs/client-key.pem\" }"
echo "  and in node I's entry: \"tls\": { \"cert\": \"certs/node-I.pem\", \"key\": \"certs/node-I-key.pem\" }"

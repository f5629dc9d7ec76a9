#!/usr/bin/env bash
# Tile serving benchmark (README, Benchmarks): `islet serve` against nginx
# serving the same log's publish directory, with wrk, the same connections
# and the same paths, on 127.0.0.1. One log of ENTRIES entries is written
# by hammer with `--publish-dir`; then, in each round, wrk asks each server
# for (a) every full hash tile of levels 0 and 1 in turn, and (b) the last
# BUNDLES full entry bundles in turn, for SECONDS each, alternating the
# servers. Prints one line per run and the medians with their ratios.
#
#   apt-get install nginx-light wrk   # (.ci/run does not: benchmarks are not tests)
#   cargo build --profile bench-server --bin islet --bin hammer
#   benches/scripts/tiles.sh target/bench-server [ROUNDS] [ENTRIES] [SECONDS] [BUNDLES]
set -euo pipefail
bin="$(cd "$1" && pwd)"; rounds="${2:-3}"; entries="${3:-100000}"; seconds="${4:-10}"; bundles="${5:-64}"
connections=64
work=$(mktemp -d)
chmod 755 "$work"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/lib.sh"

# The log, and its publish directory brought up to the final size.
p=$(free_port)
"$bin/islet" init --data "$work/data" --public-url "http://127.0.0.1:$p" --listen "127.0.0.1:$p" --no-tsa >/dev/null
"$bin/islet" serve --data "$work/data" --publish-dir "$work/public" 2>"$work/islet.log" & islet=$!
wait_for "http://127.0.0.1:$p/healthz"
"$bin/hammer" --url "http://127.0.0.1:$p" --entries "$entries" --json >/dev/null
for _ in $(seq 1 600); do
  [ "$(sed -n 2p "$work/public/checkpoint" 2>/dev/null)" = "$entries" ] && break; sleep 0.1
done
[ "$(sed -n 2p "$work/public/checkpoint")" = "$entries" ] || { echo "publish directory behind" >&2; exit 1; }
chmod -R a+rX "$work/public"

# The paths asked for, relative to each server's log prefix.
(cd "$work/public" && find tile/0 tile/1 -type f ! -path '*.p/*' | sort) > "$work/tiles.txt"
(cd "$work/public" && find tile/entries -type f ! -path '*.p/*' | sort | tail -n "$bundles") > "$work/bundles.txt"
echo "log of $entries entries: $(wc -l < "$work/tiles.txt") full hash tiles, $(wc -l < "$work/bundles.txt") bundles of $(du -cb $(sed "s|^|$work/public/|" "$work/bundles.txt") | tail -1 | cut -f1) bytes in all"
cat > "$work/paths.lua" <<'LUA'
local paths, i = {}, 0
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = os.getenv("PREFIX") .. line end
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
LUA

# nginx as a static file server of the publish directory, tuned as a site
# would: one worker per core, sendfile, no access log.
n=$(free_port)
mkdir -p "$work/nginx"
user=""; [ "$(id -u)" = 0 ] && user="user root root;"
cat > "$work/nginx/nginx.conf" <<CONF
$user
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$n;
    root $work/public;
    location /tile/ { default_type application/octet-stream; add_header Cache-Control "public, max-age=604800, immutable"; }
  }
}
CONF
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' & nginx=$!
wait_for "http://127.0.0.1:$n/tile/0/000"

run() { # name port prefix paths-file -> requests/s
  PREFIX="$3" PATHS="$4" wrk -t2 -c"$connections" -d"${seconds}s" -s "$work/paths.lua" "http://127.0.0.1:$2" \
    | awk '/Requests\/sec/ {print $2}'
}
# Warm both: the page cache for nginx, the tile cache for islet.
for f in tiles bundles; do
  run nginx "$n" / "$work/$f.txt" >/dev/null
  run islet "$p" /api/v2/ "$work/$f.txt" >/dev/null
done
for r in $(seq 1 "$rounds"); do
  for f in tiles bundles; do
    a=$(run nginx "$n" / "$work/$f.txt"); b=$(run islet "$p" /api/v2/ "$work/$f.txt")
    echo "round $r $f nginx $a islet $b"
    echo "$f $a $b" >> "$work/results.txt"
  done
done
echo "islet serve RSS after the runs: $(awk '/VmRSS/ {print $2, $3}' /proc/$islet/status)"

python3 - "$work/results.txt" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
for kind in ("tiles", "bundles"):
    ng = statistics.median(float(r[1]) for r in rows if r[0] == kind)
    isl = statistics.median(float(r[2]) for r in rows if r[0] == kind)
    print(f"{kind}: nginx {ng:,.0f} requests/s, islet serve {isl:,.0f} requests/s: ratio {isl / ng:.2f}")
PY

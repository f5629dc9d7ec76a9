#!/usr/bin/env bash
# HTTPS benchmark (README, Benchmarks). In each round, on fresh data
# directories and 127.0.0.1 ports, the same log and hammer:
#   1. plain HTTP/1.1, writes open;
#   2. HTTPS (TLS 1.3, HTTP/1.1) with [auth] write = "token", every
#      request carrying the token;
#   3. the same over HTTP/2 (ALPN; the requests share few connections).
# Each run reports entries/s and the server's CPU per entry (--server-pid),
# with the single-core ECDSA P-256 verification time measured in the same
# run. Prints one JSON line per run and the medians with their ratios.
#
#   cargo build --profile bench-server --bin islet --bin hammer
#   benches/scripts/tls.sh target/bench-server [ROUNDS] [ENTRIES]
set -euo pipefail
bin="$(cd "$1" && pwd)"; rounds="${2:-3}"; entries="${3:-20000}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/lib.sh"

# A CA and a server certificate for 127.0.0.1 (ECDSA P-256).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/ca.key" \
  -out "$work/ca.pem" -subj /CN=islet-bench-ca -days 2 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" \
  -out "$work/server.csr" -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$work/ext"
openssl x509 -req -in "$work/server.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
  -out "$work/cert.pem" -days 2 -extfile "$work/ext" 2>/dev/null
chmod 600 "$work/key.pem"

run() { # name url pid extra-args...
  local name="$1" url="$2" pid="$3"; shift 3
  "$bin/hammer" --url "$url" --entries "$entries" --server-pid "$pid" --json "$@" > "$d/$name.json"
}

for r in $(seq 1 "$rounds"); do
  d="$work/r$r"; mkdir -p "$d"
  # 1. Plain HTTP.
  p=$(free_port)
  "$bin/islet" init --data "$d/plain" --public-url "http://127.0.0.1:$p" --listen "127.0.0.1:$p" --no-tsa >/dev/null
  "$bin/islet" serve --data "$d/plain" 2>"$d/plain.log" & pid=$!; wait_for "http://127.0.0.1:$p/healthz"
  run plain "http://127.0.0.1:$p" "$pid" --http1-only
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # 2 and 3. HTTPS with a token.
  p=$(free_port)
  "$bin/islet" init --data "$d/tls" --public-url "https://127.0.0.1:$p" --listen "127.0.0.1:$p" --no-tsa >/dev/null
  cp "$work/cert.pem" "$d/tls/cert.pem"; install -m 600 "$work/key.pem" "$d/tls/key.pem"
  printf '\n[tls]\ncert = "cert.pem"\nkey = "key.pem"\n\n[auth]\nwrite = "token"\n' >> "$d/tls/islet.toml"
  token=$("$bin/islet" token add --data "$d/tls" bench --scope write)
  "$bin/islet" serve --data "$d/tls" 2>"$d/tls.log" & pid=$!; wait_for "https://127.0.0.1:$p/healthz"
  run https1 "https://127.0.0.1:$p" "$pid" --ca "$work/ca.pem" --token "$token" --http1-only
  run https2 "https://127.0.0.1:$p" "$pid" --ca "$work/ca.pem" --token "$token"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  for k in plain https1 https2; do echo "round $r $k $(cat "$d/$k.json")"; done
done

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
load = lambda k: [json.load(open(f"{work}/r{r}/{k}.json")) for r in range(1, rounds + 1)]
med = statistics.median
runs = {k: load(k) for k in ("plain", "https1", "https2")}
for k, name in (("plain", "plain HTTP/1.1, open"), ("https1", "HTTPS HTTP/1.1 + token"), ("https2", "HTTPS HTTP/2 + token")):
    xs = runs[k]
    bad = sum(x["entries_sent"] - x["entries_ok"] for x in xs)
    print(f"{name}: {med([x['entries_per_s'] for x in xs]):.0f} entries/s, "
          f"p50 {med([x['latency_s']['p50'] for x in xs])*1e3:.1f} ms, p99 {med([x['latency_s']['p99'] for x in xs])*1e3:.1f} ms, "
          f"server CPU {med([x['server_cpu_s_per_entry'] for x in xs])*1e6:.0f} µs/entry "
          f"({med([x['server_cpu_per_entry_in_verifications'] for x in xs]):.2f} ECDSA verifications), not 201: {bad}")
base = runs["plain"]
for k in ("https1", "https2"):
    print(f"{k}/plain: entries/s {med([x['entries_per_s'] for x in runs[k]]) / med([x['entries_per_s'] for x in base]):.2f}, "
          f"CPU per entry {med([x['server_cpu_s_per_entry'] for x in runs[k]]) / med([x['server_cpu_s_per_entry'] for x in base]):.2f}")
PY

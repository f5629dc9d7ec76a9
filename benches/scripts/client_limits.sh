#!/usr/bin/env bash
# Per-client limits benchmark (README, Benchmarks): does a runaway client
# cost a well-behaved one its latency? In each round, on a fresh log with
# [auth] write = "token" and two tokens:
#   1. the steady client alone: hammer at STEADY entries/s;
#   2. the same while a runaway client sends FLOOD entries/s (far above the
#      per-client limit LIMIT), with [client_limits] write_per_second = LIMIT;
#   3. the same without [client_limits] (the control: what the limit buys).
# Prints one JSON line per run, then the medians: the steady client's p99
# with the flood as a ratio of its p99 alone, and the runaway's 429s.
#
#   cargo build --profile bench-server --bin islet --bin hammer
#   benches/scripts/client_limits.sh target/bench-server [ROUNDS] [FLOOD]
#
# FLOOD (default 5000 entries/s) is above what the log sustains on 2 cores,
# so the control shows what a runaway does to the others without limits.
set -euo pipefail
bin="$(cd "$1" && pwd)"; rounds="${2:-3}"; flood_rate="${3:-5000}"
steady_rate=50; steady_n=1000; flood_n=$((flood_rate * 25)); limit=100
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/lib.sh"

start() { # dir limits? -> sets url, pid, steady, flood
  local dir="$1" limits="$2"; local p; p=$(free_port)
  "$bin/islet" init --data "$dir" --public-url "http://127.0.0.1:$p" --listen "127.0.0.1:$p" --no-tsa >/dev/null
  printf '\n[auth]\nwrite = "token"\n' >> "$dir/islet.toml"
  [ -n "$limits" ] && printf '\n[client_limits]\nwrite_per_second = %s\n' "$limits" >> "$dir/islet.toml"
  steady=$("$bin/islet" token add --data "$dir" release --scope write)
  flood=$("$bin/islet" token add --data "$dir" runaway --scope write)
  "$bin/islet" serve --data "$dir" 2>"$dir.log" & pid=$!; url="http://127.0.0.1:$p"; wait_for "$url/healthz"
}
steady_run() { "$bin/hammer" --url "$url" --token "$steady" --rate "$steady_rate" --entries "$steady_n" --concurrency 8 --json > "$1" || true; }
flood_run() { "$bin/hammer" --url "$url" --token "$flood" --rate "$flood_rate" --entries "$flood_n" --concurrency 32 --json > "$1" || true; }

for r in $(seq 1 "$rounds"); do
  d="$work/r$r"; mkdir -p "$d"
  start "$d/alone" "$limit"; steady_run "$d/alone.json"; kill "$pid"; wait "$pid" 2>/dev/null || true
  start "$d/limited" "$limit"
  flood_run "$d/limited-flood.json" & fpid=$!; sleep 5
  steady_run "$d/limited.json"; wait "$fpid"; kill "$pid"; wait "$pid" 2>/dev/null || true
  start "$d/unlimited" ""
  flood_run "$d/unlimited-flood.json" & fpid=$!; sleep 5
  steady_run "$d/unlimited.json"; wait "$fpid"; kill "$pid"; wait "$pid" 2>/dev/null || true
  for k in alone limited limited-flood unlimited unlimited-flood; do echo "round $r $k $(cat "$d/$k.json")"; done
done

python3 - "$work" "$rounds" "$limit" "$flood_rate" <<'PY'
import json, statistics, sys
work, rounds, limit, flood_rate = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
load = lambda k: [json.load(open(f"{work}/r{r}/{k}.json")) for r in range(1, rounds + 1)]
med = statistics.median
p99 = lambda k: med([x["latency_s"]["p99"] for x in load(k)])
alone, limited, unlimited = p99("alone"), p99("limited"), p99("unlimited")
print(f"steady client alone: p99 {alone*1e3:.1f} ms, 429s {sum(x['status_counts'].get('429', 0) for x in load('alone'))}")
print(f"with a runaway at {flood_rate}/s, limit {limit}/s per client: steady p99 {limited*1e3:.1f} ms ({limited/alone:.2f}x alone), "
      f"steady 429s {sum(x['status_counts'].get('429', 0) for x in load('limited'))}; "
      f"runaway: {med([x['entries_per_s'] for x in load('limited-flood')]):.0f} accepted/s, "
      f"429s median {med([x['status_counts'].get('429', 0) for x in load('limited-flood')])} of {load('limited-flood')[0]['entries_sent']}")
print(f"same without [client_limits]: steady p99 {unlimited*1e3:.1f} ms ({unlimited/alone:.2f}x alone); "
      f"runaway {med([x['entries_per_s'] for x in load('unlimited-flood')]):.0f} accepted/s")
PY

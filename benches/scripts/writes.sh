#!/usr/bin/env bash
# Write benchmark (README, Benchmarks): in each round, on a fresh data
# directory and a 127.0.0.1 port, hammer (64 connections) sends ENTRIES
# entries as fast as the log takes them, then, to a second fresh log, the
# same number at half the median rate of the first run (open loop, --rate),
# for the latency at half load. hammer measures single-core ECDSA P-256
# verification in the same run; server CPU per entry is given in those
# verifications. Everything, hammer included, shares the machine's cores.
# Prints one JSON line per run and the medians.
#
#   cargo build --profile bench-server --bin islet --bin hammer
#   benches/scripts/writes.sh target/bench-server [ROUNDS] [ENTRIES]
set -euo pipefail
bin="$(cd "$1" && pwd)"; rounds="${2:-3}"; entries="${3:-20000}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/lib.sh"
one() { # dir json-out [hammer args...]
  local d="$1" out="$2"; shift 2
  local p; p=$(free_port)
  "$bin/islet" init --data "$d" --public-url "http://127.0.0.1:$p" --listen "127.0.0.1:$p" --no-tsa >/dev/null
  "$bin/islet" serve --data "$d" 2>"$d.log" & local pid=$!
  wait_for "http://127.0.0.1:$p/healthz"
  "$bin/hammer" --url "http://127.0.0.1:$p" --entries "$entries" --server-pid "$pid" --json "$@" > "$out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

for r in $(seq 1 "$rounds"); do
  one "$work/full$r" "$work/full$r.json"
  echo "round $r full $(cat "$work/full$r.json")"
done
half=$(python3 -c "import json,statistics,sys; print(int(statistics.median(json.load(open(f'$work/full{r}.json'))['entries_per_s'] for r in range(1,$rounds+1))/2))")
for r in $(seq 1 "$rounds"); do
  one "$work/half$r" "$work/half$r.json" --rate "$half"
  echo "round $r half $(cat "$work/half$r.json")"
done

python3 - "$work" "$rounds" "$half" <<'PY'
import json, statistics, sys
work, rounds, half = sys.argv[1], int(sys.argv[2]), sys.argv[3]
med = statistics.median
for kind, name in (("full", "as fast as it takes them"), ("half", f"at {half} entries/s")):
    runs = [json.load(open(f"{work}/{kind}{r}.json")) for r in range(1, rounds + 1)]
    print(f"{name}: {med(x['entries_per_s'] for x in runs):,.0f} entries/s, "
          f"server CPU {med(x['server_cpu_s_per_entry'] for x in runs)*1e6:.0f} us per entry = "
          f"{med(x['server_cpu_per_entry_in_verifications'] for x in runs):.2f} ECDSA P-256 verifications "
          f"({med(x['ecdsa_p256_verify_s'] for x in runs)*1e6:.1f} us each), "
          f"p50 {med(x['latency_s']['p50'] for x in runs)*1e3:.1f} ms, "
          f"p99 {med(x['latency_s']['p99'] for x in runs)*1e3:.1f} ms, "
          f"errors {sum(x['entries_sent'] - x['entries_ok'] for x in runs)}")
PY

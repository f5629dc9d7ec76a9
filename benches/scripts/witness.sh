#!/usr/bin/env bash
# Witnessing benchmark (README, Benchmarks). In each round, on fresh data
# directories and 127.0.0.1 ports:
#   1. hammer against a log with no witness;
#   2. hammer against the same kind of log witnessed, fail-closed, by one
#      local islet witness (every 201 waits for its cosignature);
#   3. hammer --witness against that witness: add-checkpoint requests/s,
#      with the raw Ed25519 signing rate measured in the same run.
# Prints one JSON line per run and the medians.
#
#   cargo build --profile bench-server --bin islet --bin hammer
#   benches/scripts/witness.sh target/bench-server [ROUNDS] [ENTRIES]
set -euo pipefail
bin="$(cd "$1" && pwd)"; rounds="${2:-3}"; entries="${3:-20000}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/lib.sh"
init() { # dir port origin -> prints the log vkey
  "$bin/islet" init --data "$1" --public-url "http://127.0.0.1:$2" --listen "127.0.0.1:$2" --origin "$3" --no-tsa | sed -n 's/^verifier key //p'
}

for r in $(seq 1 "$rounds"); do
  d="$work/r$r"; mkdir -p "$d"
  # 1. No witness.
  p=$(free_port); init "$d/plain" "$p" plain.example >/dev/null
  "$bin/islet" serve --data "$d/plain" 2>"$d/plain.log" & pid=$!; wait_for "http://127.0.0.1:$p/healthz"
  "$bin/hammer" --url "http://127.0.0.1:$p" --entries "$entries" --server-pid "$pid" --json > "$d/plain.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # 2. One local witness, fail-closed.
  pa=$(free_port); pw=$(free_port)
  avkey=$(init "$d/a" "$pa" site-a.example)
  init "$d/w" "$pw" witness.example >/dev/null
  printf '\n[witness_service]\n[[witness_service.log]]\nvkey = "%s"\n' "$avkey" >> "$d/w/islet.toml"
  wvkey=$("$bin/islet" witness key --data "$d/w")
  printf 'log %s http://127.0.0.1:%s\nwitness W %s http://127.0.0.1:%s/witness\nquorum W\n' "$avkey" "$pa" "$wvkey" "$pw" > "$d/a/policy.txt"
  printf '\n[witness]\npolicy = "policy.txt"\nmode = "fail-closed"\n' >> "$d/a/islet.toml"
  "$bin/islet" serve --data "$d/w" 2>"$d/w.log" & wpid=$!; wait_for "http://127.0.0.1:$pw/healthz"
  "$bin/islet" serve --data "$d/a" 2>"$d/a.log" & apid=$!; wait_for "http://127.0.0.1:$pa/healthz"
  "$bin/hammer" --url "http://127.0.0.1:$pa" --entries "$entries" --server-pid "$apid" --json > "$d/witnessed.json"
  # 3. The witness alone, re-cosigning A's checkpoint.
  "$bin/hammer" --witness --url "http://127.0.0.1:$pw" --log-url "http://127.0.0.1:$pa" --entries "$entries" --server-pid "$wpid" --json > "$d/witness.json"
  kill "$apid" "$wpid"; wait 2>/dev/null || true
  for k in plain witnessed witness; do echo "round $r $k $(cat "$d/$k.json")"; done
done

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
load = lambda k: [json.load(open(f"{work}/r{r}/{k}.json")) for r in range(1, rounds + 1)]
med = lambda xs: statistics.median(xs)
plain, witnessed, witness = load("plain"), load("witnessed"), load("witness")
for name, runs in (("no witness", plain), ("one witness, fail-closed", witnessed)):
    print(f"{name}: {med([x['entries_per_s'] for x in runs]):.0f} entries/s, "
          f"p50 {med([x['latency_s']['p50'] for x in runs])*1e3:.1f} ms, "
          f"p99 {med([x['latency_s']['p99'] for x in runs])*1e3:.1f} ms")
print(f"witnessed/plain entries/s: {med([w['entries_per_s'] for w in witnessed]) / med([p['entries_per_s'] for p in plain]):.2f}")
print(f"witness add-checkpoint: {med([x['requests_per_s'] for x in witness]):.0f} requests/s, "
      f"p50 {med([x['latency_s']['p50'] for x in witness])*1e3:.1f} ms, "
      f"against {med([x['raw_signatures_per_s'] for x in witness]):.0f} Ed25519 signatures/s on one core: "
      f"ratio {med([x['ratio_to_raw_signing'] for x in witness]):.3f}")
PY

#!/usr/bin/env bash
# Instructions per entry (README, Benchmarks): `islet serve` under
# valgrind's callgrind, ENTRIES entries from hammer (16 connections), the
# counters zeroed once the server answers and dumped after the last entry.
# Instruction counts do not move with the machine's noise the way seconds
# do, so they compare two builds where the write benchmark's spread hides a
# few per cent. Under valgrind the server runs on one thread at a fiftieth of
# its speed, so batches are small: per-batch work weighs more than at full
# rate. Prints the instructions per entry.
#
#   apt-get install valgrind   # (.ci/run does not: benchmarks are not tests)
#   cargo build --profile bench-server --bin islet --bin hammer
#   benches/scripts/instructions.sh target/bench-server [ENTRIES]
set -euo pipefail
bin="$(cd "$1" && pwd)"; entries="${2:-2000}"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

source "$(dirname "$0")/lib.sh"
p=$(free_port)
"$bin/islet" init --data "$work/data" --public-url "http://127.0.0.1:$p" --listen "127.0.0.1:$p" --no-tsa >/dev/null
valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$bin/islet" serve --data "$work/data" 2>"$work/islet.log" & pid=$!
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
callgrind_control -z "$pid" >/dev/null
"$bin/hammer" --url "http://127.0.0.1:$p" --entries "$entries" --concurrency 16 --json > "$work/hammer.json"
callgrind_control -d "$pid" >/dev/null
sleep 1
kill "$pid"; wait "$pid" 2>/dev/null || true
ok=$(python3 -c "import json; print(json.load(open('$work/hammer.json'))['entries_ok'])")
total=$(sed -n 's/^summary: //p' "$work/cg.out.1")
python3 -c "print(f'{$ok} entries, {$total:,} instructions, {$total / $ok:,.0f} per entry')"

#!/usr/bin/env bash
# PostgreSQL benchmark (README, Benchmarks). In each round, on fresh data
# directories, a fresh PostgreSQL cluster (Debian's server binaries, fsync
# on, no standby) and 127.0.0.1 ports, the same hammer against:
#   1. one node on RocksDB (the embedded default);
#   2. one node on PostgreSQL;
#   3. two nodes on PostgreSQL, the requests round-robin over both.
# Everything shares the machine's cores: hammer, nodes and database.
# Each run reports entries/s, the nodes' CPU per entry and the database's
# (postmaster, live backends and the backends that ended: --db-pid), with
# the single-core ECDSA P-256 verification time measured in the same run.
# Prints one JSON line per run and the medians with their ratios.
#
#   cargo build --profile bench-server --bin islet --bin hammer
#   benches/scripts/pg.sh target/bench-server [ROUNDS] [ENTRIES]
set -euo pipefail
bin="$(cd "$1" && pwd)"; rounds="${2:-3}"; entries="${3:-10000}"
pgbin=${ISLET_PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)}
work=$(mktemp -d)
# The postgres user must reach its cluster's directory.
chmod 755 "$work"
clusters=()
cleanup() {
  kill $(jobs -p) 2>/dev/null || true
  for c in "${clusters[@]}"; do as_pg "$pgbin/pg_ctl" -D "$c/data" -m immediate stop >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

source "$(dirname "$0")/lib.sh"
# initdb refuses root: as root, the server runs as Debian's postgres user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

start_pg() { # dir port
  local dir="$1" port="$2"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  as_pg "$pgbin/initdb" -D "$dir/data" -U islet --auth=trust -E UTF8 >/dev/null
  printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\nshared_buffers = 128MB\nfsync = on\n" \
    "$port" "$dir" >> "$dir/data/postgresql.conf"
  as_pg "$pgbin/pg_ctl" -D "$dir/data" -w -l "$dir/log" start >/dev/null
  clusters+=("$dir")
  for db in one two; do as_pg "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U islet "$db"; done
}

node() { # dir port url node-name [key]
  local extra=(--store "$3" --node "$4" --no-sync-standby)
  [ -n "${5:-}" ] && extra+=(--key "$5")
  "$bin/islet" init --data "$1" --public-url "http://127.0.0.1:$2" --listen "127.0.0.1:$2" --no-tsa \
    "${extra[@]}" >/dev/null
}

for r in $(seq 1 "$rounds"); do
  d="$work/r$r"; mkdir -p "$d"
  # 1. RocksDB.
  p=$(free_port)
  "$bin/islet" init --data "$d/rocks" --public-url "http://127.0.0.1:$p" --listen "127.0.0.1:$p" --no-tsa >/dev/null
  "$bin/islet" serve --data "$d/rocks" 2>"$d/rocks.log" & pid=$!; wait_for "http://127.0.0.1:$p/healthz"
  "$bin/hammer" --url "http://127.0.0.1:$p" --entries "$entries" --server-pid "$pid" --json > "$d/rocks.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true

  pgport=$(free_port); start_pg "$d/pg" "$pgport"
  postmaster=$(head -n 1 "$d/pg/data/postmaster.pid")
  # 2. One node on PostgreSQL.
  p=$(free_port)
  node "$d/one-a" "$p" "postgres://islet@127.0.0.1:$pgport/one" node-a
  "$bin/islet" serve --data "$d/one-a" 2>"$d/one-a.log" & pid=$!; wait_for "http://127.0.0.1:$p/healthz"
  "$bin/hammer" --url "http://127.0.0.1:$p" --entries "$entries" --server-pid "$pid" \
    --db-pid "$postmaster" --json > "$d/pg1.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  # 3. Two nodes on PostgreSQL.
  pa=$(free_port); pb=$(free_port)
  node "$d/two-a" "$pa" "postgres://islet@127.0.0.1:$pgport/two" node-a
  node "$d/two-b" "$pb" "postgres://islet@127.0.0.1:$pgport/two" node-b "$d/two-a/keys/log.pem"
  "$bin/islet" serve --data "$d/two-a" 2>"$d/two-a.log" & pida=$!; wait_for "http://127.0.0.1:$pa/healthz"
  "$bin/islet" serve --data "$d/two-b" 2>"$d/two-b.log" & pidb=$!; wait_for "http://127.0.0.1:$pb/healthz"
  "$bin/hammer" --url "http://127.0.0.1:$pa" --url "http://127.0.0.1:$pb" --entries "$entries" \
    --server-pid "$pida" --server-pid "$pidb" --db-pid "$postmaster" --json > "$d/pg2.json"
  kill "$pida" "$pidb"; wait "$pida" "$pidb" 2>/dev/null || true
  as_pg "$pgbin/pg_ctl" -D "$d/pg/data" -m fast stop >/dev/null
  for k in rocks pg1 pg2; do echo "round $r $k $(cat "$d/$k.json")"; done
done

python3 - "$work" "$rounds" <<'PY'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
med = statistics.median
runs = {k: [json.load(open(f"{work}/r{r}/{k}.json")) for r in range(1, rounds + 1)] for k in ("rocks", "pg1", "pg2")}
m = lambda k, f: med([f(x) for x in runs[k]])
for k, name in (("rocks", "one node, RocksDB"), ("pg1", "one node, PostgreSQL"), ("pg2", "two nodes, PostgreSQL")):
    bad = sum(x["entries_sent"] - x["entries_ok"] for x in runs[k])
    db = m(k, lambda x: x["db_cpu_s_per_entry"] or 0.0)
    print(f"{name}: {m(k, lambda x: x['entries_per_s']):.0f} entries/s, "
          f"p50 {m(k, lambda x: x['latency_s']['p50'])*1e3:.1f} ms, p99 {m(k, lambda x: x['latency_s']['p99'])*1e3:.1f} ms, "
          f"CPU per entry: nodes {m(k, lambda x: x['server_cpu_s_per_entry'])*1e6:.0f} µs + database {db*1e6:.0f} µs "
          f"= {m(k, lambda x: x['total_cpu_s_per_entry'])*1e6:.0f} µs "
          f"({m(k, lambda x: x['total_cpu_per_entry_in_verifications']):.2f} ECDSA verifications), not 201: {bad}")
rate = lambda k: m(k, lambda x: x["entries_per_s"])
cpu = lambda k: m(k, lambda x: x["total_cpu_s_per_entry"])
print(f"PostgreSQL/RocksDB, one node: entries/s {rate('pg1') / rate('rocks'):.2f}, CPU per entry {cpu('pg1') / cpu('rocks'):.2f}")
print(f"two nodes/one node, PostgreSQL: entries/s {rate('pg2') / rate('pg1'):.2f}, CPU per entry {cpu('pg2') / cpu('pg1'):.2f}")
PY

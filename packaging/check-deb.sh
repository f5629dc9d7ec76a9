#!/usr/bin/env bash
# Builds the Debian package from the binary the tests built (dev profile:
# the package check must not compile RocksDB a second time), installs it
# with dpkg -i, and checks the installed paths: `islet --version`, the
# unit with systemd-analyze verify, `islet serve` as the islet user
# answering /healthz. Removes the package again. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
deb=$(mktemp -d)/islet.deb
cargo deb --no-build --profile dev -o "$deb" 2>&1 | grep -v 'dev profile is not supported\|To enable debug symbols' || true
dpkg -i "$deb"
trap 'dpkg --purge islet >/dev/null || true; rm -rf "$(dirname "$deb")" "${data:-}"' EXIT
/usr/bin/islet --version
getent passwd islet >/dev/null
systemd-analyze verify /usr/lib/systemd/system/islet.service
data=$(mktemp -d)
chown islet:islet "$data"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
setpriv --reuid=islet --regid=islet --init-groups timeout 30 /usr/bin/islet serve \
    --data "$data/islet" --listen "127.0.0.1:$port" --public-url "http://127.0.0.1:$port" 2>/dev/null &
server=$!
for _ in $(seq 1 100); do
    if curl -sf "http://127.0.0.1:$port/healthz" | grep -q SERVING; then
        kill "$server"; wait "$server" 2>/dev/null || true
        echo "packaging: the installed islet serves as user islet"
        exit 0
    fi
    sleep 0.1
done
echo "packaging: the installed islet did not answer /healthz" >&2
exit 1

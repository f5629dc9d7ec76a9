# Helpers the benchmark scripts share; sourced, not run.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to 20 s for URL to answer 2xx (any certificate: the TLS runs
# use a test CA); exits the script if it never does.
wait_for() {
  for _ in $(seq 1 400); do curl -sfk "$1" >/dev/null && return; sleep 0.05; done
  echo "$1 did not answer" >&2; exit 1
}

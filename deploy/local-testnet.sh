#!/usr/bin/env bash
# Starts a local Kyoto Ledger network on loopback: N validators (this release runs one;
# BFT among several comes with Malachite) and one observer that verifies every block.
#
#   deploy/local-testnet.sh [N] [DIR]      N defaults to 1, DIR to ./.kyoto-testnet
#
# Party dev keys are in DIR/dev-keys/<CODE>.key (as with `kyotod --dev`). Once every node
# serves, prints one line per node, `<name> <grpc-url>`, then waits; Ctrl-C or SIGTERM
# stops every node it started. Uses `kyotod` from PATH, or $KYOTOD.
set -euo pipefail

n="${1:-1}"
dir="${2:-./.kyoto-testnet}"
kyotod="${KYOTOD:-kyotod}"
if [ "$n" != "1" ]; then
  echo "local-testnet: this release runs a single validator (got N=$n); BFT among many comes with the Malachite integration" >&2
  exit 2
fi
command -v "$kyotod" >/dev/null || { echo "local-testnet: $kyotod not found (cargo install --locked --path node)" >&2; exit 2; }
mkdir -p "$dir"

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

# start NAME LOG ARGS...: starts a node and waits until it prints its gRPC address.
start() {
  local name="$1" log="$2"; shift 2
  "$kyotod" "$@" --log-format json >"$log.out" 2>"$log.err" &
  pids+=("$!")
  for _ in $(seq 1 600); do
    if url=$(grep -o 'http://[0-9.:]*' "$log.out" 2>/dev/null | head -n1) && [ -n "$url" ]; then
      echo "$name $url"
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "local-testnet: $name exited; see $log.err" >&2
      cat "$log.err" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "local-testnet: $name did not start within 60 s; see $log.err" >&2
  exit 1
}

validator_port="${KYOTO_VALIDATOR_PORT:-50061}"
observer_port="${KYOTO_OBSERVER_PORT:-50071}"
start validator-1 "$dir/validator-1" --dev --data-dir "$dir" --grpc-addr "127.0.0.1:$validator_port"
validator_url="http://127.0.0.1:$validator_port"
start observer-1 "$dir/observer-1" --observer --genesis "$dir/genesis.json" --sync-from "$validator_url" \
  --data-dir "$dir/observer-1" --grpc-addr "127.0.0.1:$observer_port"
wait

#!/usr/bin/env bash
# Starts a local Kyoto Ledger network on loopback: N validators in BFT consensus
# (Malachite) with transaction gossip, and one observer that verifies every block's
# commit certificate.
#
#   deploy/local-testnet.sh [N] [DIR]      N defaults to 4, DIR to ./.kyoto-testnet
#
# The first run writes the network with `kyotod init` (genesis, validator keys in
# DIR/validator-<i>/validator.key, Party dev keys in DIR/dev-keys/<CODE>.key, as with
# `kyotod --dev`); later runs restart the same network from its data. Once every node
# serves, prints one line per node, `<name> <grpc-url>`, then waits; Ctrl-C or SIGTERM
# stops every node it started. Logs: DIR/<name>.log. Uses `kyotod` from PATH, or
# $KYOTOD. Base ports (validator i adds i-1): KYOTO_VALIDATOR_PORT (gRPC, 50061),
# KYOTO_OBSERVER_PORT (50071), KYOTO_P2P_PORT (consensus, 26661), KYOTO_GOSSIP_PORT
# (transaction gossip, 26761).
set -euo pipefail

n="${1:-4}"
dir="${2:-./.kyoto-testnet}"
kyotod="${KYOTOD:-kyotod}"
case "$n" in
  ''|*[!0-9]*) echo "local-testnet: N must be a number of validators (got '$n')" >&2; exit 2 ;;
esac
if [ "$n" -lt 1 ] || [ "$n" -gt 50 ]; then
  echo "local-testnet: N must be between 1 and 50 (got $n)" >&2
  exit 2
fi
command -v "$kyotod" >/dev/null || { echo "local-testnet: $kyotod not found (cargo install --locked --path node)" >&2; exit 2; }
mkdir -p "$dir"
if [ ! -f "$dir/genesis.json" ]; then
  "$kyotod" init --validators "$n" --dir "$dir" >/dev/null
elif [ ! -f "$dir/validator-$n/validator.key" ] || [ -f "$dir/validator-$((n + 1))/validator.key" ]; then
  echo "local-testnet: $dir holds a network of another size; remove it or pick another DIR" >&2
  exit 2
fi

grpc_base="${KYOTO_VALIDATOR_PORT:-50061}"
observer_port="${KYOTO_OBSERVER_PORT:-50071}"
p2p_base="${KYOTO_P2P_PORT:-26661}"
gossip_base="${KYOTO_GOSSIP_PORT:-26761}"

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'stop; exit 0' INT TERM
trap stop EXIT

lines=()
# start NAME ARGS...: starts a node and waits until it prints its gRPC address.
start() {
  local name="$1"; shift
  local log="$dir/$name"
  "$kyotod" "$@" --log-format json >"$log.out" 2>"$log.log" &
  pids+=("$!")
  for _ in $(seq 1 600); do
    if url=$(grep -o 'http://[0-9.:]*' "$log.out" 2>/dev/null | head -n1) && [ -n "$url" ]; then
      lines+=("$name $url")
      return 0
    fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then
      echo "local-testnet: $name exited; see $log.log" >&2
      tail -n 20 "$log.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "local-testnet: $name did not start within 60 s; see $log.log" >&2
  exit 1
}

urls=()
for i in $(seq 1 "$n"); do
  peers=()
  gossip_peers=()
  for j in $(seq 1 "$n"); do
    [ "$j" = "$i" ] && continue
    peers+=("/ip4/127.0.0.1/tcp/$((p2p_base + j - 1))")
    gossip_peers+=("/ip4/127.0.0.1/tcp/$((gossip_base + j - 1))")
  done
  peer_args=()
  if [ "${#peers[@]}" -gt 0 ]; then
    peer_args=(--peer "$(IFS=,; echo "${peers[*]}")" --gossip-peer "$(IFS=,; echo "${gossip_peers[*]}")")
  fi
  port=$((grpc_base + i - 1))
  start "validator-$i" --genesis "$dir/genesis.json" --validator-key "$dir/validator-$i/validator.key" \
    --data-dir "$dir/validator-$i" --grpc-addr "127.0.0.1:$port" \
    --p2p-addr "/ip4/127.0.0.1/tcp/$((p2p_base + i - 1))" \
    --gossip-addr "/ip4/127.0.0.1/tcp/$((gossip_base + i - 1))" "${peer_args[@]}"
  urls+=("http://127.0.0.1:$port")
done
start observer-1 --observer --genesis "$dir/genesis.json" --sync-from "$(IFS=,; echo "${urls[*]}")" \
  --data-dir "$dir/observer-1" --grpc-addr "127.0.0.1:$observer_port"
for l in "${lines[@]}"; do echo "$l"; done
wait

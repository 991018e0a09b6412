#!/bin/bash
# Record corpus/regress/live_session.pcapng: stack-live answers on a TUN device in a
# throwaway network namespace while the namespace's kernel pings it (IPv4 and IPv6,
# small, 3000-byte and TOS-marked pings) and probes closed UDP and TCP ports.
# Usage (root): corpus/live_session.sh [OUT.pcapng]
set -u
OUT=${1:-corpus/regress/live_session.pcapng}
BIN=$(dirname "$(command -v stack-live || echo /opt/tunstack-venv/bin/stack-live)")
NS=ts-rec-live$$
DEV=tsrl$$
LOG=$(mktemp)
ip netns add "$NS" || exit 1
trap 'ip netns del "$NS"; rm -f "$LOG"' EXIT
ip -n "$NS" link set lo up
ip netns exec "$NS" "$BIN/stack-live" "$DEV" --record "$OUT" --user root --stay-root -q >"$LOG" 2>&1 &
LIVE=$!
for _ in $(seq 50); do  # wait (at most 5 s) for stack-live to configure the device
    ip -n "$NS" -6 addr show dev "$DEV" 2>/dev/null | grep -q fd00:16::1 && break
    sleep 0.1
done
sleep 0.5
IN="ip netns exec $NS"
$IN ping -c 3 -i 0.2 -W 1 172.16.0.2 >/dev/null
$IN ping -6 -c 3 -i 0.2 -W 1 fd00:16::2 >/dev/null
$IN ping -c 1 -s 3000 -W 1 172.16.0.2 >/dev/null
$IN ping -6 -c 1 -s 3000 -W 1 fd00:16::2 >/dev/null
$IN ping -c 1 -Q 0xb8 -W 1 172.16.0.2 >/dev/null
$IN "$BIN/python" - <<'PY'
import socket

for family, address in ((socket.AF_INET, "172.16.0.2"), (socket.AF_INET6, "fd00:16::2")):
    socket.socket(family, socket.SOCK_DGRAM).sendto(b"hello", (address, 9))
for family, address in ((socket.AF_INET, "172.16.0.2"), (socket.AF_INET6, "fd00:16::2")):
    probe = socket.socket(family)
    probe.settimeout(1)
    try:
        probe.connect((address, 9))
    except OSError:
        pass  # refused: the RST+ACK is what we record
PY
sleep 0.5
kill -INT "$LIVE"
wait "$LIVE"
tail -3 "$LOG"

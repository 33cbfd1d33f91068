#!/bin/bash
# The runbook's health check (seed 002), shipped in every release and run on the host by
# verify-health as a `command` check (as the deploy user: it reads only what any user may).
#   scripts/health_check.sh [port]        exit 0: healthy; 1: not, with the reason on stdout
# Checks, in the runbook's order: the service is running, no panic flag, memory under the limit;
# then what only the app can tell: it answers /health on localhost, the broker is connected, it is
# trading, its heartbeat is fresh and its decision latency (p99) is under the runbook's 350 ms.
set -u
UNIT=${IBKR_UNIT:-ibkr-trading.service}
PORT=${1:-${IBKR_HEALTH_PORT:-8200}}
APP_DIR=$(cd "$(dirname "$0")/.." && pwd)
PANIC_FLAG="$APP_DIR/state/panic.flag" # shared/state, the same file in every release
MEMORY_MAX=8000000000                  # 8 GB, the unit's MemoryMax

if ! systemctl is-active --quiet "$UNIT"; then
  echo "FAIL: service $UNIT is not running ($(systemctl is-active "$UNIT"))"
  exit 1
fi

if [ -e "$PANIC_FLAG" ]; then
  echo "FAIL: panic flag detected: $PANIC_FLAG"
  exit 1
fi

MEMORY_USAGE=$(systemctl show "$UNIT" --property=MemoryCurrent --value)
if [[ "$MEMORY_USAGE" =~ ^[0-9]+$ ]] && [ "$MEMORY_USAGE" -gt "$MEMORY_MAX" ]; then
  echo "FAIL: memory usage too high: $MEMORY_USAGE bytes"
  exit 1
fi

exec python3 - "$PORT" <<'PY'
import json, sys, urllib.error, urllib.request
port = sys.argv[1]
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=3) as r:
        h = json.load(r)
except urllib.error.HTTPError as e:
    h = json.load(e)
except (OSError, ValueError) as e:
    print(f"FAIL: the app does not answer on 127.0.0.1:{port}/health: {e}")
    sys.exit(1)
problems = []
if h.get("broker") != "connected":
    problems.append(f"broker {h.get('broker')}")
if not h.get("trading"):
    problems.append("not trading")
if h.get("heartbeat_age_s", 1e9) > 10:
    problems.append(f"heartbeat {h.get('heartbeat_age_s')} s old")
p99 = h.get("decision_latency_p99_ms")
if p99 is not None and p99 >= 350:
    problems.append(f"decision latency p99 {p99} ms >= 350 ms")
if problems:
    print(f"FAIL: version {h.get('version')}: " + "; ".join(problems))
    sys.exit(1)
print(f"OK: service is healthy: version {h['version']}, {h['decisions']} decisions, p99 {p99} ms")
PY

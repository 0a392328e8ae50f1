#!/usr/bin/env bash
# The release binary (`cargo build --release`, what scripts/setup.sh builds for
# users) must not contain the test-only fault injector (host/src/fault.rs,
# feature `fault-injection`): fails when its environment variable is in it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${1:-$ROOT/target/release/edgepipe}"
[ -x "$BIN" ] || { echo "check-release: error: $BIN is missing: run scripts/setup.sh" >&2; exit 1; }
if grep -q -a "EDGEPIPE_FAULT" "$BIN"; then
  echo "check-release: error: $BIN contains the fault injector (EDGEPIPE_FAULT); build it without --features fault-injection" >&2
  exit 1
fi
echo "check-release: $BIN has no fault injector" >&2

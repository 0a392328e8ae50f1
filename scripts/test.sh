#!/usr/bin/env bash
# The tests: set up what is missing (packages, wasm target, ORT, model, clip,
# host and plugin builds), check formatting, clippy and the release binary,
# then run every test of the workspace's host crate
# (unit tests and the integration tests in tests/all) and of the tracker library.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/setup.sh
# Style gates: the tree is rustfmt-formatted and clippy-clean (warnings are errors).
cargo fmt --all -- --check
cargo clippy --release -p edgepipe --all-targets --quiet -- -D warnings
# The release binary setup.sh built for users carries no test hook
# (EDGEPIPE_FAULT lives behind the `fault-injection` feature the tests enable).
bash scripts/check-release.sh
cargo test --release -p edgepipe -p edgepipe-track "$@"

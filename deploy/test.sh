#!/usr/bin/env bash
# The full test suite: formatting, lints, unit tests and the end-to-end tests against pcscd +
# vpcd, the virtual printer, the reference backends, SQLite and the Slint testing backend.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

phase() { echo "test.sh: $1 after ${SECONDS}s"; }
phase "set-up done"
cargo fmt --all --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
# Every binary the end-to-end tests run (kioskctl, counter-sync, submit-loop) and every test,
# built once up front so that no test waits for a build.
phase "lints done"
cargo build --workspace --all-targets --quiet
phase "build done"
export MADOGUCHI_BUILT=1
# The Debian package from the release profile (lintian-checked), for the install test in a
# clean Debian 12 root (made by that test with mmdebstrap, kept in target/debian).
MADOGUCHI_DEB="$PWD/$(./deploy/build-deb.sh | tail -n 1)"
export MADOGUCHI_DEB
phase "package built: $MADOGUCHI_DEB"

if cargo nextest --version >/dev/null 2>&1; then
  # One process per test: Slint's event loop can only start once per process.
  cargo nextest run --workspace --no-fail-fast
else
  log=$(mktemp)
  cargo test --workspace --no-fail-fast 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
  awk '/^test result:/ { p += $4; f += $6; i += $8 } END { printf "Summary: %d passed, %d failed, %d ignored\n", p, f, i }' "$log"
  exit "$status"
fi

#!/usr/bin/env bash
# The kiosk demo on simulated devices. With a display: the kiosk window with a virtual card
# inserted (PIN shown in the terminal). Without one: a scripted resident session runs
# headlessly and every screen and the receipts are written under demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --workspace --quiet
exec ./target/debug/madoguchi-demo "$@"

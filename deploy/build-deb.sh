#!/usr/bin/env bash
# Builds the Madoguchi Debian package from the release profile:
#   deploy/build-deb.sh            → target/debian/madoguchi_<version>_amd64.deb
# Its path is the last line printed. lintian must find no error in it.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh >&2
export PATH="$HOME/.cargo/bin:$PATH"

# cargo-deb turns the [package.metadata.deb] of kiosk-app/Cargo.toml into the .deb.
if ! cargo deb --version 2>/dev/null | grep -q '^cargo-deb 3\.'; then
  echo "build-deb: installing cargo-deb" >&2
  cargo install cargo-deb --locked --version '^3' --quiet >&2
fi

# Only the shipped binaries, without the tests' features (one release feature set).
cargo build --release --locked --quiet -p kiosk-app -p counter-sync --bins >&2
out=target/debian
mkdir -p "$out"
deb=$(cargo deb -p kiosk-app --no-build --no-strip --output "$out" 2>/dev/null | tail -n 1)
lintian --fail-on error --suppress-tags no-manual-page,initial-upload-closes-no-bugs "$deb" >&2
echo "$deb"

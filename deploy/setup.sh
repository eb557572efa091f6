#!/usr/bin/env bash
# Installs everything Madoguchi needs to build, test and run its demo on Debian 12:
# system packages (PC/SC with the vpcd virtual reader, fonts, Xvfb), a Rust toolchain when
# none is present, and a running pcscd. Safe to run again.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential pkg-config curl ca-certificates
  pcscd libpcsclite-dev vsmartcard-vpcd pcsc-tools   # card reader stack + virtual reader
  libssl-dev                                         # JWE sealing (josekit → OpenSSL)
  libfontconfig1-dev libxkbcommon-x11-0              # Slint software renderer, X11 window
  xvfb xauth                                         # a display for CI screenshots
  fonts-morisawa-bizud-gothic zbar-tools             # receipts font; QR decoding in checks
  python3-argon2                                     # test oracle: staff PIN hashes (argon2-cffi)
  python3-jwcrypto                                   # independent JWE oracle (tests/oracle)
  python3-pyscard                                    # third-party card reader checking the virtual card
  strace                                             # test oracle: the serial line asked of the kernel
  libinput-dev libudev-dev libxkbcommon-dev libgbm-dev # Slint LinuxKMS backend (touch, DRM/KMS)
  cage grim xwayland                                 # the kiosk under a Wayland kiosk compositor, screenshots
  mmdebstrap lintian                                 # the package: a clean Debian 12 root to install it in, its checks
  prometheus                                         # promtool, which checks the shipped alert rules
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Rust 1.92 or newer (Slint 1.18 needs it).
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: installing Rust with rustup"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
  export PATH="$HOME/.cargo/bin:$PATH"
fi
rustc_minor=$(rustc --version | sed -E 's/rustc 1\.([0-9]+).*/\1/')
if [ "$rustc_minor" -lt 92 ]; then
  echo "setup: Rust $(rustc --version) is too old; Slint 1.18 needs 1.92 or newer (rustup update)" >&2
  exit 1
fi

# The third-party ESC/POS oracle of the receipt tests: emupos (PyPI) in a venv at
# target/pyenv, versions pinned in tests/oracle/requirements.txt. emupos 0.4.0 asks for
# Python >= 3.13 only for its PEP 695 `type` aliases; Debian 12 has 3.11, so it is installed
# without that check and tests/oracle/py311.py rewrites those aliases to 3.11 syntax.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ORACLE="$ROOT/target/pyenv"
oracle_stamp=$(cat "$ROOT/tests/oracle/requirements.txt" "$ROOT/tests/oracle/py311.py" | sha256sum | cut -c1-16)
if [ "$(cat "$ORACLE/.madoguchi-stamp" 2>/dev/null)" != "$oracle_stamp" ]; then
  echo "setup: installing the ESC/POS oracle (emupos) in $ORACLE"
  /usr/bin/python3 -c 'import ensurepip' 2>/dev/null || {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-venv >/dev/null
  }
  rm -rf "$ORACLE"
  /usr/bin/python3 -m venv "$ORACLE"
  "$ORACLE/bin/pip" install -q --disable-pip-version-check --no-deps --ignore-requires-python \
    -r "$ROOT/tests/oracle/requirements.txt"
  "$ORACLE/bin/python" "$ROOT/tests/oracle/py311.py" \
    "$("$ORACLE/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/emupos" >/dev/null
  "$ORACLE/bin/python" -c 'import emupos.printer.printer'
  echo "$oracle_stamp" > "$ORACLE/.madoguchi-stamp"
fi

# pcscd with the vpcd reader (127.0.0.1:35963) for the kiosk and real readers. Under systemd
# it is socket-activated; elsewhere (containers, CI) start the daemon directly. The tests do
# not use it: each test process runs a pcscd of its own (tests/src/pcscd.rs).
if ! pgrep -x pcscd >/dev/null 2>&1; then
  if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
    $SUDO systemctl start pcscd.socket pcscd.service || true
  fi
  pgrep -x pcscd >/dev/null 2>&1 || $SUDO pcscd
fi

# shellcheck shell=bash
# Shared set-up for the README's two commands (sourced, not run): the system packages Qt
# needs, a virtual environment, and the project installed into it. Safe to run repeatedly:
# each step is skipped when already done.

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${GPTLAB_VENV:-$ROOT/.venv}"

# What Qt's offscreen and xcb platforms load on Debian/Ubuntu (PySide6 wheels bundle Qt itself).
QT_SYSTEM_PACKAGES=(
  libegl1 libgl1 libopengl0 libglib2.0-0 libdbus-1-3 libfontconfig1 libfreetype6
  fonts-dejavu-core libxkbcommon0 libxkbcommon-x11-0 libx11-xcb1 libxcb-cursor0
  libxcb-icccm4 libxcb-keysyms1 libxcb-image0 libxcb-randr0 libxcb-render-util0
  libxcb-shape0 libxcb-xinerama0 libxcb-xkb1
)

# What the keyring tests start: a private D-Bus session bus (dbus-daemon) with a real Secret
# Service on it (gnome-keyring-daemon). Debian 12+ and Ubuntu 22.10+ ship dbus-daemon (and
# dbus-run-session) in the package dbus-daemon; older releases in dbus.
keyring_test_packages() {
  local bus=dbus-daemon
  if command -v apt-cache >/dev/null 2>&1 && ! apt-cache show dbus-daemon >/dev/null 2>&1; then
    bus=dbus
  fi
  printf '%s\n' gnome-keyring "$bus"
}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# ensure_system_packages PKG...: install what is missing with apt-get when we may,
# otherwise stop with the exact command for the user to run.
ensure_system_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    say "Not a Debian/Ubuntu system: make sure the equivalents of these are installed: $*"
    return 0
  fi
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local apt=()
  if [ "$(id -u)" -eq 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    apt=(sudo apt-get)
  else
    say "These system packages are missing: ${missing[*]}"
    say "Install them, then run this command again:"
    printf '    sudo apt-get install -y %s\n' "${missing[*]}" >&2
    exit 1
  fi
  say "Installing system packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# The newest Python 3.11+ on PATH.
find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  say "GPT Lab Desktop needs Python 3.11 or newer (sudo apt-get install -y python3 python3-venv)."
  exit 1
}

# ensure_venv [EXTRAS]: create the virtual environment and install the project into it,
# again only when pyproject.toml or the extras changed since the last install.
ensure_venv() {
  local extras="${1:-}" spec="$ROOT" stamp
  [ -n "$extras" ] && spec="$ROOT[$extras]"
  if [ ! -x "$VENV/bin/python" ]; then
    local python
    python="$(find_python)"
    say "Creating the virtual environment in $VENV ($("$python" --version))"
    "$python" -m venv "$VENV"
  fi
  stamp="$(cat "$ROOT/pyproject.toml"; echo "extras=$extras")"
  stamp="$(printf '%s' "$stamp" | sha256sum | cut -d' ' -f1)"
  if [ "$(cat "$VENV/.gptlab-installed" 2>/dev/null)" != "$stamp" ]; then
    say "Installing GPT Lab Desktop${extras:+ with [$extras]} into the virtual environment"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$spec"
    printf '%s' "$stamp" > "$VENV/.gptlab-installed"
  fi
}

# Why the Firestore tests (marker `firestore`) cannot run here, or nothing: they need the
# official emulator, which gcloud starts on Java. Nothing is downloaded at test time.
FIRESTORE_EMULATOR_HINT="sudo apt-get install google-cloud-cli-firestore-emulator openjdk-17-jre-headless (or: gcloud components install cloud-firestore-emulator)"
firestore_emulator_problem() {
  local gcloud
  gcloud="$(command -v gcloud 2>/dev/null)" || { echo "gcloud is not installed"; return 0; }
  command -v java >/dev/null 2>&1 || { echo "Java is not installed"; return 0; }
  local sdk_root
  sdk_root="$(dirname "$(dirname "$(readlink -f "$gcloud")")")"
  [ -d "$sdk_root/platform/cloud-firestore-emulator" ] \
    || echo "gcloud has no Firestore emulator component"
}

# The Firebase CLI (npm package firebase-tools), whose Auth emulator the sign-in tests start.
# It goes into .tools/firebase-tools inside the repository (ignored by git), never globally,
# and is installed again only when the version there is not this one. No lock file is written.
FIREBASE_TOOLS_VERSION="15.37.0"
FIREBASE_TOOLS_DIR="$ROOT/.tools/firebase-tools"
FIREBASE_TOOLS_HINT="npm install --no-save --no-package-lock --prefix .tools/firebase-tools firebase-tools@$FIREBASE_TOOLS_VERSION"

firebase_tools_version() {
  local manifest="$FIREBASE_TOOLS_DIR/node_modules/firebase-tools/package.json"
  [ -x "$FIREBASE_TOOLS_DIR/node_modules/.bin/firebase" ] && [ -f "$manifest" ] || return 0
  node -p 'require(process.argv[1]).version' "$manifest" 2>/dev/null || true
}

# ensure_firebase_tools: install firebase-tools at FIREBASE_TOOLS_VERSION unless already there.
# Without Node.js and npm, or when the install fails, it only says so: the Auth emulator tests
# then skip with the same hint.
ensure_firebase_tools() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "Node.js and npm are missing, so the sign-in tests will be skipped (sudo apt-get install -y nodejs npm)."
    return 0
  fi
  [ "$(firebase_tools_version)" = "$FIREBASE_TOOLS_VERSION" ] && return 0
  say "Installing firebase-tools $FIREBASE_TOOLS_VERSION into ${FIREBASE_TOOLS_DIR#"$ROOT/"}"
  mkdir -p "$FIREBASE_TOOLS_DIR"
  if ! NO_UPDATE_NOTIFIER=1 npm install --silent --no-save --no-package-lock --no-audit \
      --no-fund --prefix "$FIREBASE_TOOLS_DIR" "firebase-tools@$FIREBASE_TOOLS_VERSION" >/dev/null \
      || [ "$(firebase_tools_version)" != "$FIREBASE_TOOLS_VERSION" ]; then
    say "firebase-tools $FIREBASE_TOOLS_VERSION did not install, so the sign-in tests will be skipped."
    say "To install it by hand: $FIREBASE_TOOLS_HINT"
  fi
}

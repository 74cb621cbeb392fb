/**
 * The simulated camera: a Raspberry Pi HQ camera (Sony IMX477) behind the libcamera RPi pipeline. Everything here is
 * copied from a named source (see FIDELITY.md): sensor modes as `rpicam-hello --list-cameras` prints them for the
 * imx477, mode choice from RPiCamApp::selectMode, default buffer counts from the pipeline handler
 * (raspberrypi/libcamera src/libcamera/pipeline/rpi/common/pipeline_base.cpp generateConfiguration), stream set-up
 * from RPiCamApp::Configure{Viewfinder,Zsl,Still,Video} and frame pacing from RPiCamApp::StartCamera.
 */

export const SENSOR = {
  model: 'imx477',
  id: '/base/soc/i2c0mux/i2c@1/imx477@1a',
  width: 4056,
  height: 3040,
  /** (pixel format, size, maximum frame rate): the imx477's modes. */
  modes: [
    { format: 'SRGGB10_CSI2P', width: 1332, height: 990, depth: 10, fps: 120.05 },
    { format: 'SRGGB12_CSI2P', width: 2028, height: 1080, depth: 12, fps: 50.03 },
    { format: 'SRGGB12_CSI2P', width: 2028, height: 1520, depth: 12, fps: 40.01 },
    { format: 'SRGGB12_CSI2P', width: 4056, height: 3040, depth: 12, fps: 10.0 },
  ],
} as const;

export type SensorMode = (typeof SENSOR.modes)[number];

/** Modelled delays (ms) the sensor cannot give us: camera open + first configure, a still-mode reconfigure. */
export const TIMING = { openMs: 150, stillModeSwitchMs: 250 } as const;

/** What the simulated auto exposure settles on (an indoor scene): the values a locked burst reuses. */
export const AUTO_EXPOSURE = {
  shutterUs: 20000,
  analogueGain: 2.0,
  digitalGain: 1.0,
  colourGains: [2.1, 1.6],
} as const;

export interface ModeRequest {
  width: number;
  height: number;
  depth?: number;
  framerate?: number;
}

/** RPiCamApp::selectMode: the same scores, the same tie-break (the last best mode wins). */
export function selectMode(req: ModeRequest, log?: (line: string) => void): SensorMode {
  const depth = req.depth ?? 12;
  const scoreFormat = (desired: number, actual: number) => {
    let score = desired - actual;
    if (score < 0) score = -score / 8;
    if (actual !== desired) score *= 2;
    return score;
  };
  let best: SensorMode = SENSOR.modes[0];
  let bestScore = Number.MAX_VALUE;
  log?.(`Mode selection for ${req.width}:${req.height}:${depth}:P${req.framerate ? `(${req.framerate})` : ''}`);
  for (const m of SENSOR.modes) {
    let score = scoreFormat(req.width, m.width) + scoreFormat(req.height, m.height);
    score += 1500 * scoreFormat(req.width / req.height, m.width / m.height);
    if (req.framerate) score += 2000 * Math.abs(req.framerate - Math.min(m.fps, req.framerate));
    score += 500 * Math.abs(depth - m.depth);
    if (score <= bestScore) {
      bestScore = score;
      best = m;
    }
    log?.(
      `    ${m.format},${m.width}x${m.height}/${req.framerate ? m.fps : 0} - Score: ${Number(score.toPrecision(6))}`,
    );
  }
  return best;
}

/** The ISP's YUV420 buffers: rows padded to 64 bytes, chroma planes at half the stride. */
export function yuvStride(width: number): number {
  return Math.ceil(width / 64) * 64;
}
export function yuvFrameBytes(width: number, height: number): number {
  return (yuvStride(width) * height * 3) / 2;
}
/** CSI-2 packed Bayer: depth bits per pixel, rows padded to 32 bytes. */
export function rawFrameBytes(m: SensorMode): number {
  return Math.ceil((m.width * m.depth) / 8 / 32) * 32 * m.height;
}

export interface StreamAlloc {
  name: 'still' | 'viewfinder' | 'video' | 'raw';
  /** libcamera's StreamConfiguration::toString: `4056x3040-YUV420`. */
  format: string;
  bytes: number;
  count: number;
}

const yuv = (name: StreamAlloc['name'], w: number, h: number, count: number): StreamAlloc => ({
  name,
  format: `${w}x${h}-YUV420`,
  bytes: yuvFrameBytes(w, h),
  count,
});
const raw = (m: SensorMode, count: number): StreamAlloc => ({
  name: 'raw',
  format: `${m.width}x${m.height}-${m.format}`,
  bytes: rawFrameBytes(m),
  count,
});

/** The viewfinder size rpicam-apps choose: half the sensor, matched to the aspect of --width/--height. */
export function viewfinderSize(o: {
  width: number;
  height: number;
  viewfinderWidth: number;
  viewfinderHeight: number;
}) {
  if (o.viewfinderWidth && o.viewfinderHeight) return { width: o.viewfinderWidth, height: o.viewfinderHeight };
  let w = SENSOR.width / 2;
  let h = SENSOR.height / 2;
  if (o.width && o.height) {
    // Size::boundedToAspectRatio
    const ratio = o.width / o.height;
    if (w / h > ratio) w = Math.floor(h * ratio);
    else h = Math.floor(w / ratio);
  }
  return { width: w & ~1, height: h & ~1 };
}

export type Configuration = 'viewfinder' | 'zsl' | 'still' | 'video';

export interface ConfigOptions {
  width: number;
  height: number;
  viewfinderWidth: number;
  viewfinderHeight: number;
  bufferCount: number;
  viewfinderBufferCount: number;
  framerate?: number;
}

/** The streams each Configure* call asks for, with their buffer counts (rpicam_app.cpp, libcamera defaults). */
export function streamsFor(kind: Configuration, o: ConfigOptions, log?: (line: string) => void): StreamAlloc[] {
  const stillW = o.width || SENSOR.width;
  const stillH = o.height || SENSOR.height;
  switch (kind) {
    case 'viewfinder': {
      const vf = viewfinderSize(o);
      const count = o.viewfinderBufferCount || 4; // StreamRole::Viewfinder
      const mode = selectMode({ ...vf, framerate: o.framerate }, log);
      return [yuv('viewfinder', vf.width, vf.height, count), raw(mode, count)];
    }
    case 'zsl': {
      // ConfigureZsl: the still stream takes --buffer-count or the viewfinder's count (4); raw and viewfinder copy it.
      const count = o.bufferCount || 4;
      const vf = viewfinderSize(o);
      const mode = selectMode({ width: stillW, height: stillH, framerate: o.framerate }, log);
      return [yuv('still', stillW, stillH, count), yuv('viewfinder', vf.width, vf.height, count), raw(mode, count)];
    }
    case 'still': {
      const count = o.bufferCount || 1; // StreamRole::StillCapture
      const mode = selectMode({ width: stillW, height: stillH, framerate: o.framerate }, log);
      return [yuv('still', stillW, stillH, count), raw(mode, count)];
    }
    case 'video': {
      const count = o.bufferCount || 6; // ConfigureVideo: "6 buffers is better than 4"
      const mode = selectMode({ width: o.width, height: o.height, framerate: o.framerate }, log);
      return [yuv('video', o.width, o.height, count), raw(mode, count)];
    }
  }
}

/**
 * Frame pacing (RPiCamApp::StartCamera): with a still stream the frame duration limits are 100 µs–1000 s, so a frame
 * lasts as long as the exposure (at least the mode's fastest frame); without one they are fixed at 1/framerate
 * (30 fps by default) and the exposure is clipped to the frame (IpaBase::applyAGC, getBlanking).
 */
export function frameDurationMs(
  kind: Configuration,
  mode: SensorMode,
  exposureUs: number,
  framerate: number | undefined,
): number {
  const minFrameMs = 1000 / mode.fps;
  if (kind === 'zsl' || kind === 'still') return Math.max(minFrameMs, exposureUs / 1000);
  return Math.max(minFrameMs, 1000 / (framerate ?? 30));
}

/** The exposure a frame actually gets: the fixed shutter or the simulated auto exposure, clipped to the frame. */
export function effectiveExposure(
  kind: Configuration,
  o: { shutterUs: number; gain: number; framerate?: number },
  mode: SensorMode,
): { shutterUs: number; analogueGain: number; digitalGain: number } {
  let shutterUs = o.shutterUs > 0 ? o.shutterUs : AUTO_EXPOSURE.shutterUs;
  if (kind === 'viewfinder' || kind === 'video')
    shutterUs = Math.min(shutterUs, frameDurationMs(kind, mode, 0, o.framerate) * 1000);
  return { shutterUs, analogueGain: o.gain > 0 ? o.gain : AUTO_EXPOSURE.analogueGain, digitalGain: 1 };
}

/**
 * Exposure of a frame, from its EXIF when the camera wrote one (rpicam-apps' image/jpeg.cpp writes ExposureTime and
 * ISOSpeedRatings from the frame's metadata), and a check on the pixels for files without EXIF. A burst is merged
 * only when every frame was exposed the same: averaging a brighter frame into a darker one is not noise reduction.
 */
export interface ExifExposure {
  exposureS?: number;
  iso?: number;
}

/** ExposureTime (0x829a) and ISOSpeedRatings (0x8827) from a TIFF-structured EXIF block (sharp's `metadata().exif`). */
export function readExifExposure(exif: Buffer | undefined): ExifExposure {
  if (!exif || exif.length < 14) return {};
  let base = 0;
  if (exif.subarray(0, 6).toString('latin1') === 'Exif\0\0') base = 6;
  const order = exif.subarray(base, base + 2).toString('latin1');
  if (order !== 'II' && order !== 'MM') return {};
  const le = order === 'II';
  const u16 = (o: number) => (le ? exif.readUInt16LE(base + o) : exif.readUInt16BE(base + o));
  const u32 = (o: number) => (le ? exif.readUInt32LE(base + o) : exif.readUInt32BE(base + o));
  const inside = (o: number, n: number) => base + o >= 0 && base + o + n <= exif.length;
  const out: ExifExposure = {};
  const walk = (ifd: number, depth: number) => {
    if (depth > 2 || !inside(ifd, 2)) return;
    const count = u16(ifd);
    for (let i = 0; i < count; i++) {
      const e = ifd + 2 + i * 12;
      if (!inside(e, 12)) return;
      const tag = u16(e);
      const type = u16(e + 2);
      if (tag === 0x8769 && type === 4) walk(u32(e + 8), depth + 1);
      else if (tag === 0x829a && type === 5) {
        const off = u32(e + 8);
        if (inside(off, 8) && u32(off + 4) !== 0) out.exposureS = u32(off) / u32(off + 4);
      } else if (tag === 0x8827 && type === 3) out.iso = u16(e + 8);
    }
  };
  walk(u32(4), 0);
  return out;
}

/** Luminance quantiles in linear light (0..1) of a small RGB preview: enough to compare exposures. */
export function linearQuantiles(rgb: Uint8Array, qs: readonly number[]): number[] {
  const lin = new Float32Array(256);
  for (let i = 0; i < 256; i++) {
    const v = i / 255;
    lin[i] = v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  }
  // Histogram on a square-root scale: fine steps in the shadows, where a night frame's mid-tones are.
  const BINS = 4096;
  const hist = new Uint32Array(BINS);
  const n = rgb.length / 3;
  for (let i = 0; i < n; i++) {
    const l = 0.2126 * lin[rgb[i * 3]] + 0.7152 * lin[rgb[i * 3 + 1]] + 0.0722 * lin[rgb[i * 3 + 2]];
    hist[Math.min(BINS - 1, Math.floor(Math.sqrt(l) * BINS))]++;
  }
  return qs.map((q) => {
    const target = q * n;
    let acc = 0;
    for (let b = 0; b < BINS; b++) {
      acc += hist[b];
      if (acc > target) return ((b + 0.5) / BINS) ** 2;
    }
    return 1;
  });
}

/**
 * Exposure difference of a frame against the reference in stops, from the median ratio of mid-tone quantiles
 * (shadows are mostly noise, highlights may clip).
 */
export function exposureDifferenceEv(ref: number[], other: number[]): number {
  const r: number[] = [];
  for (let i = 0; i < ref.length; i++) if (ref[i] > 0.002 && other[i] > 0.002) r.push(Math.log2(other[i] / ref[i]));
  if (r.length === 0) return 0;
  r.sort((a, b) => a - b);
  return r[r.length >> 1];
}

export const EXPOSURE_QUANTILES = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8] as const;

/**
 * Spread (stops) of the log ratios of the brighter quantiles (from the median up: less noise than the shadows).
 * Another exposure of the same scene scales every quantile alike (spread ≤ 0.16 EV on the synthetic bursts of
 * test/night, 1 EV apart or not); another scene (the camera swung, everything moved) shifts them unevenly (≥ 0.3 EV).
 */
export function exposureRatioSpread(ref: number[], other: number[]): number {
  const r: number[] = [];
  for (let i = Math.floor(ref.length / 3); i < ref.length; i++)
    if (ref[i] > 0.002 && other[i] > 0.002) r.push(Math.log2(other[i] / ref[i]));
  return r.length < 2 ? 0 : Math.max(...r) - Math.min(...r);
}

/** Above this spread a frame's brightness difference is taken for other content, not another exposure. */
export const CONTENT_SPREAD_EV = 0.25;

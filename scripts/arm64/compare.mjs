// Compares an arm64 run with the x86 reference (scripts/arm64-check.sh). Runs on the host Node.
//   node scripts/arm64/compare.mjs --label CPU --detect X86.json ARM.json --image X86.png ARM.png
// Tolerances: same face count; box coordinates and landmarks ±0.5 px; scores ±1e-3; image PSNR ≥ 45 dB.
import { readFileSync } from 'node:fs';
import sharp from 'sharp';

export const TOL = { px: 0.5, score: 1e-3, psnrDb: 45 };

/** The last stdout line that is a detection result (other lines, if any, are logs). */
export function lastDetection(text) {
  const lines = text.split('\n').filter((l) => l.trim().startsWith('{'));
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const o = JSON.parse(lines[i]);
      if (Array.isArray(o.faces)) return o;
    } catch {
      // not JSON: skip
    }
  }
  throw new Error('no detection JSON found');
}

export function compareDetections(a, b) {
  const problems = [];
  let maxPx = 0;
  let maxScore = 0;
  if (a.faces.length !== b.faces.length) problems.push(`face count ${a.faces.length} (x86) vs ${b.faces.length}`);
  const n = Math.min(a.faces.length, b.faces.length);
  for (let i = 0; i < n; i++) {
    const fa = a.faces[i];
    const fb = b.faces[i];
    const coords = [
      ...fa.box.map((v, k) => [v, fb.box[k]]),
      ...fa.landmarks.flatMap((p, k) => [
        [p[0], fb.landmarks[k][0]],
        [p[1], fb.landmarks[k][1]],
      ]),
    ];
    for (const [u, v] of coords) maxPx = Math.max(maxPx, Math.abs(u - v));
    maxScore = Math.max(maxScore, Math.abs(fa.score - fb.score));
  }
  if (maxPx > TOL.px) problems.push(`coordinate differs by ${maxPx.toFixed(3)} px (> ${TOL.px})`);
  if (maxScore > TOL.score) problems.push(`score differs by ${maxScore.toExponential(2)} (> ${TOL.score})`);
  return { faces: a.faces.length, maxPx, maxScore, problems };
}

export async function compareImages(fileA, fileB) {
  const a = await sharp(fileA).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const b = await sharp(fileB).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (a.info.width !== b.info.width || a.info.height !== b.info.height) {
    return {
      psnr: 0,
      meanAbs: Number.NaN,
      maxAbs: Number.NaN,
      problems: [`size ${a.info.width}x${a.info.height} vs ${b.info.width}x${b.info.height}`],
    };
  }
  let se = 0;
  let sa = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    se += d * d;
    sa += Math.abs(d);
    maxAbs = Math.max(maxAbs, Math.abs(d));
  }
  const mse = se / a.data.length;
  const psnr = mse === 0 ? Number.POSITIVE_INFINITY : 10 * Math.log10((255 * 255) / mse);
  const problems = psnr < TOL.psnrDb ? [`PSNR ${psnr.toFixed(1)} dB (< ${TOL.psnrDb})`] : [];
  return { psnr, meanAbs: sa / a.data.length, maxAbs, problems };
}

async function main(argv) {
  const get = (flag, n) => {
    const i = argv.indexOf(flag);
    return i < 0 ? [] : argv.slice(i + 1, i + 1 + n);
  };
  const [label = 'arm64'] = get('--label', 1);
  const [dx, da] = get('--detect', 2);
  const [ix, ia] = get('--image', 2);
  const problems = [];
  if (dx && da) {
    const d = compareDetections(lastDetection(readFileSync(dx, 'utf8')), lastDetection(readFileSync(da, 'utf8')));
    console.log(
      `${label}: detect ${d.faces} face(s); max coordinate diff ${d.maxPx.toFixed(3)} px, max score diff ${d.maxScore.toExponential(2)}`,
    );
    problems.push(...d.problems);
  }
  if (ix && ia) {
    const c = await compareImages(ix, ia);
    const psnr = Number.isFinite(c.psnr) ? `${c.psnr.toFixed(1)} dB` : 'identical (inf dB)';
    console.log(
      `${label}: filter PSNR ${psnr}, mean |diff| ${c.meanAbs.toFixed(4)}, max |diff| ${c.maxAbs} (8-bit levels)`,
    );
    problems.push(...c.problems);
  }
  for (const p of problems) console.log(`${label}: MISMATCH ${p}`);
  return problems.length ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`compare: ${e instanceof Error ? e.message : e}`);
      process.exit(2);
    },
  );
}

import { RowReader, RowWriter } from '../filters/raw-image.js';
import { type CV, withMats } from './cv.js';
import { applyH, homography, invert3, type Mat3, mul3, type Quad } from './geometry.js';

/** Output tile side of the warp: the source region one tile needs stays a few MB in OpenCV's heap. */
const TILE = 512;

/**
 * Flattens the print: the quadrilateral `corners` of the `.v` image `input` becomes the upright rectangle
 * width×height in `output`. Tile by tile (cv.warpPerspective, bicubic), each reading only the source rectangle its
 * corners map to, so a 12 MP photo never sits in OpenCV's heap whole.
 */
export async function warpPrint(
  cv: CV,
  input: string,
  output: string,
  corners: Quad,
  size: { width: number; height: number },
  onProgress?: (f: number) => void,
): Promise<void> {
  const reader = await RowReader.open(input);
  let writer: RowWriter | undefined;
  try {
    const { width: OW, height: OH } = size;
    // Output pixel centres at integers; the corners are the paper's outer edge, so the rectangle spans
    // [−0.5, OW − 0.5] and the first and last pixels sit half a pixel inside it.
    const Hso = homography(corners, [
      [-0.5, -0.5],
      [OW - 0.5, -0.5],
      [OW - 0.5, OH - 0.5],
      [-0.5, OH - 0.5],
    ]);
    const Hos = invert3(Hso);
    writer = await RowWriter.create(output, OW, OH);
    const strip = Buffer.alloc(TILE * OW * 3);
    const rows = Math.ceil(OH / TILE);
    for (let ty = 0; ty < rows; ty++) {
      const y0 = ty * TILE;
      const th = Math.min(TILE, OH - y0);
      for (let x0 = 0; x0 < OW; x0 += TILE) {
        const tw = Math.min(TILE, OW - x0);
        const pts = [
          applyH(Hos, x0 - 1, y0 - 1),
          applyH(Hos, x0 + tw, y0 - 1),
          applyH(Hos, x0 + tw, y0 + th),
          applyH(Hos, x0 - 1, y0 + th),
        ];
        const rx0 = clamp(Math.floor(Math.min(...pts.map((p) => p[0]))) - 3, 0, reader.width - 1);
        const ry0 = clamp(Math.floor(Math.min(...pts.map((p) => p[1]))) - 3, 0, reader.height - 1);
        const rx1 = clamp(Math.ceil(Math.max(...pts.map((p) => p[0]))) + 4, rx0 + 1, reader.width);
        const ry1 = clamp(Math.ceil(Math.max(...pts.map((p) => p[1]))) + 4, ry0 + 1, reader.height);
        const region = await reader.readRegion(rx0, ry0, rx1 - rx0, ry1 - ry0);
        // region pixel → source pixel → output pixel → tile pixel
        const M: Mat3 = mul3(mul3([1, 0, -x0, 0, 1, -y0, 0, 0, 1], Hso), [1, 0, rx0, 0, 1, ry0, 0, 0, 1]);
        withMats((keep) => {
          const src = keep(cv.matFromArray(ry1 - ry0, rx1 - rx0, cv.CV_8UC3, region));
          const dst = keep(new cv.Mat());
          const m = keep(cv.matFromArray(3, 3, cv.CV_64F, M));
          cv.warpPerspective(src, dst, m, new cv.Size(tw, th), cv.INTER_CUBIC, cv.BORDER_REPLICATE);
          const d = dst.data;
          for (let r = 0; r < th; r++) strip.set(d.subarray(r * tw * 3, (r + 1) * tw * 3), (r * OW + x0) * 3);
        });
      }
      await writer.write(strip, th);
      onProgress?.((ty + 1) / rows);
    }
    await writer.close();
  } catch (e) {
    await writer?.abandon();
    throw e;
  } finally {
    await reader.close();
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v));
}

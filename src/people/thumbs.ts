import sharp from 'sharp';

export const FACE_THUMB_SIZE = 128;
/** The photo is decoded at most this large for the crops (JPEG shrink-on-load makes that cheap on a 12 MP photo). */
const DECODE_MAX = 1280;

/**
 * Square face crops for the People cards: the box grown by a quarter on each side, clamped to the photo, at
 * 128×128. One decode per photo; a box that falls outside the photo gives undefined for that face.
 */
export async function makeFaceThumbs(
  file: string,
  boxes: [number, number, number, number][],
): Promise<(Buffer | undefined)[]> {
  const meta = await sharp(file, { autoOrient: true }).metadata();
  const W = meta.autoOrient?.width ?? meta.width ?? 0;
  const H = meta.autoOrient?.height ?? meta.height ?? 0;
  if (!W || !H) return boxes.map(() => undefined);
  const { data, info } = await sharp(file, { autoOrient: true })
    .resize({ width: DECODE_MAX, height: DECODE_MAX, fit: 'inside', withoutEnlargement: true })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const s = info.width / W;
  const out: (Buffer | undefined)[] = [];
  for (const [x, y, w, h] of boxes) {
    const side = Math.max(w, h) * 1.5 * s;
    const cx = (x + w / 2) * s;
    const cy = (y + h / 2) * s;
    const left = Math.max(0, Math.round(cx - side / 2));
    const top = Math.max(0, Math.round(cy - side / 2));
    const width = Math.min(info.width - left, Math.round(side));
    const height = Math.min(info.height - top, Math.round(side));
    if (width < 2 || height < 2) {
      out.push(undefined);
      continue;
    }
    out.push(
      await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels as 3 } })
        .extract({ left, top, width, height })
        .resize(FACE_THUMB_SIZE, FACE_THUMB_SIZE, { fit: 'cover' })
        .jpeg({ quality: 82 })
        .toBuffer(),
    );
  }
  return out;
}

import type { GalleryStore } from '../store/gallery.js';
import type { PhotoMeta } from '../store/types.js';
import { NotFoundError, ValidationError } from '../util/errors.js';
import { alternateName, type BestShotMeta, type FrameScore } from './best-shot.js';

/** The variant recipe of a best-shot alternate: which frame of the burst and its score. */
export interface AlternateRecipe {
  alternate: { frame: number; total: number };
}

export function isAlternate(recipe: unknown): recipe is AlternateRecipe {
  const a = (recipe as AlternateRecipe | undefined)?.alternate;
  return typeof a === 'object' && a !== null && Number.isInteger(a.frame);
}

export const alternateRecipe = (s: FrameScore): AlternateRecipe => ({ alternate: { frame: s.frame, total: s.total } });

/**
 * "Use this frame instead": alternate `name` becomes the photo and the photo becomes an alternate. The sidecar's
 * `bestShot` follows (which frame is chosen, `promoted: true`); filtered versions of the old original are removed
 * (they show another frame). Returns the new sidecar and the variants removed.
 */
export async function promoteAlternate(
  gallery: GalleryStore,
  id: string,
  name: string,
): Promise<{ meta: PhotoMeta; removed: string[] }> {
  const meta = gallery.get(id).meta;
  const bs = meta.bestShot as BestShotMeta | undefined;
  const v = meta.variants[name];
  if (!bs || !v) throw new NotFoundError(`photo ${id} has no alternate "${name}"`);
  if (!isAlternate(v.recipe)) throw new ValidationError(`"${name}" is a filtered version, not an alternate frame`);
  const frame = v.recipe.alternate.frame;
  const keepAs = alternateName(bs.chosen);
  const scores = bs.scores.map((s) => {
    const { chosen: _c, alternate: _a, ...rest } = s;
    if (s.frame === frame) return { ...rest, chosen: true };
    if (s.frame === bs.chosen) return { ...rest, alternate: keepAs };
    return s;
  });
  const old = scores.find((s) => s.frame === bs.chosen) ?? { frame: bs.chosen, total: 0 };
  await gallery.promoteVariant(
    id,
    name,
    { name: keepAs, recipe: alternateRecipe(old as FrameScore) },
    { bestShot: { ...bs, chosen: frame, scores, promoted: true } },
  );
  const removed: string[] = [];
  for (const [n, info] of Object.entries(gallery.get(id).meta.variants)) {
    if (isAlternate(info.recipe)) continue;
    await gallery.deleteVariant(id, n);
    removed.push(n);
  }
  return { meta: gallery.get(id).meta, removed };
}

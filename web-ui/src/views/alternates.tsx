import { useState } from 'preact/hooks';
import { api, errorText, type Photo } from '../api';

interface FrameScore {
  frame: number;
  faces: number;
  smile: number | null;
  faceSharpness: number | null;
  sharpness: number;
  total: number;
  chosen?: boolean;
  alternate?: string;
}

export interface BestShotInfo {
  frames: number;
  chosen: number;
  scores: FrameScore[];
  promoted?: boolean;
}

/** A best-shot alternate is a variant whose recipe names the burst frame it is. */
export function isAlternate(v: { recipe?: unknown }): boolean {
  const a = (v.recipe as { alternate?: { frame?: number } } | undefined)?.alternate;
  return typeof a?.frame === 'number';
}

/**
 * The other frames of a best shot: one chip per frame with its score; the chosen one first. Selecting a chip shows
 * that frame; "Use this frame" makes it the photo (the old photo becomes an alternate).
 */
export function Alternates(props: {
  photo: Photo & { bestShot?: BestShotInfo };
  variant: string;
  onSelect: (variant: string) => void;
  onPromoted: (photo: Photo) => void;
}) {
  const { photo, variant } = props;
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const bs = photo.bestShot;
  if (!bs) return null;
  const alternates = new Set((photo.variants ?? []).filter(isAlternate).map((v) => v.name));
  const scores = [...bs.scores].sort(
    (a, b) => Number(b.chosen ?? false) - Number(a.chosen ?? false) || a.frame - b.frame,
  );
  const promote = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api<{ photo: Photo }>('POST', `/api/photos/${photo.id}/alternates/${variant}/promote`, {});
      props.onPromoted(r.photo);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="best-shot" data-testid="alternates">
      <div class="muted">
        Best shot: frame {bs.chosen + 1} of {bs.frames}
        {bs.promoted ? ' (chosen by you)' : ''}
      </div>
      <div class="variants">
        {scores.map((s) => {
          const name = s.chosen ? 'original' : s.alternate;
          if (!name || (name !== 'original' && !alternates.has(name))) return null;
          return (
            <button
              type="button"
              key={s.frame}
              class={variant === name ? 'chip active' : 'chip'}
              onClick={() => props.onSelect(name)}
              data-frame={s.frame + 1}
              title={`faces ${s.faces}, smile ${s.smile === null ? '–' : s.smile.toFixed(2)}, sharpness ${Math.round(s.sharpness)}`}
            >
              {s.chosen ? '★ ' : ''}Frame {s.frame + 1} · {Math.round(s.total * 100)}
            </button>
          );
        })}
      </div>
      {alternates.has(variant) && (
        <button type="button" class="primary" disabled={busy} onClick={promote} data-testid="promote">
          {busy ? 'Swapping…' : 'Use this frame'}
        </button>
      )}
      {error && <p class="error">{error}</p>}
    </div>
  );
}

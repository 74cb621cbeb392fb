import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, type Photo } from '../api';
import { onWs } from '../ws';

/** Four [x, y] corners, clockwise from top-left, as fractions of the image's width and height. */
export type Quad = [number, number][];

/** A starting outline when nothing was found: the middle of the frame. */
export const INSET: Quad = [
  [0.15, 0.15],
  [0.85, 0.15],
  [0.85, 0.85],
  [0.15, 0.85],
];

/**
 * The print's outline over an image, corners draggable with a finger or the mouse (pointer events). `aspect` is the
 * image's width / height; the overlay covers the image box the way `object-fit: contain` shows it.
 */
export function QuadEditor({
  quad,
  aspect,
  onChange,
  guess,
}: {
  quad: Quad;
  aspect: number;
  onChange: (q: Quad) => void;
  /** True while the outline is the daemon's guess (drawn dashed), false once the owner moved a corner. */
  guess?: boolean;
}) {
  const svg = useRef<SVGSVGElement>(null);
  const drag = useRef<number | null>(null);
  const W = 1000;
  const H = W / aspect;
  const toImage = (e: PointerEvent): [number, number] | null => {
    const m = svg.current?.getScreenCTM();
    if (!svg.current || !m) return null;
    const p = svg.current.createSVGPoint();
    p.x = e.clientX;
    p.y = e.clientY;
    const q = p.matrixTransform(m.inverse());
    const clamp = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 1e4) / 1e4;
    return [clamp(q.x / W), clamp(q.y / H)];
  };
  const move = (e: PointerEvent) => {
    if (drag.current === null) return;
    const p = toImage(e);
    if (!p) return;
    e.preventDefault();
    onChange(quad.map((c, i) => (i === drag.current ? p : c)));
  };
  return (
    <svg
      ref={svg}
      class="scan-outline"
      viewBox={`0 0 ${W} ${H}`}
      preserveAspectRatio="xMidYMid meet"
      data-testid="scan-outline"
      data-guess={guess ? 'true' : 'false'}
      data-quad={JSON.stringify(quad)}
      onPointerMove={move}
      onPointerUp={() => {
        drag.current = null;
      }}
      onPointerCancel={() => {
        drag.current = null;
      }}
    >
      <title>Print outline: drag a corner to move it</title>
      <polygon class={guess ? 'guess' : ''} points={quad.map(([x, y]) => `${x * W},${y * H}`).join(' ')} />
      {quad.map(([x, y], i) => (
        <circle
          key={i}
          cx={x * W}
          cy={y * H}
          r={W / 28}
          data-testid={`scan-corner-${i}`}
          onPointerDown={(e) => {
            drag.current = i;
            (e.currentTarget as Element).setPointerCapture?.(e.pointerId);
            e.preventDefault();
          }}
        />
      ))}
    </svg>
  );
}

/**
 * Scan mode in the viewfinder: while `on`, the daemon outlines the print on preview frames (POST
 * /api/modes/scan/outline, renewed every 20 s; `scan` WebSocket events). A dragged outline replaces the guess until
 * reset, and goes with the capture.
 */
export function useScanMode(on: boolean) {
  const [live, setLive] = useState<Quad | null>(null);
  const [dragged, setDragged] = useState<Quad | null>(null);
  useEffect(() => {
    if (!on) return;
    const watch = () => api('POST', '/api/modes/scan/outline', { on: true }).catch(() => {});
    void watch();
    const renew = window.setInterval(watch, 20_000);
    const off = onWs('scan', (d) => setLive((d as { corners: Quad | null }).corners));
    return () => {
      window.clearInterval(renew);
      off();
      setLive(null);
      setDragged(null);
      void api('POST', '/api/modes/scan/outline', { on: false }).catch(() => {});
    };
  }, [on]);
  const capture = async (): Promise<Photo> => {
    const r = await api<{ scan: { photo: Photo; jobId: string } }>(
      'POST',
      '/api/modes/scan',
      dragged ? { corners: dragged } : {},
    );
    setDragged(null);
    return r.scan.photo;
  };
  return { quad: dragged ?? live, guess: !dragged, setDragged, reset: () => setDragged(null), capture };
}

/** In the viewer: the print's corners on the original, draggable, and the scan made again from them. */
export function ScanCorners({ photo, onQueued }: { photo: Photo; onQueued: () => void }) {
  const scan = photo.variants?.find((v) => v.name === 'scan');
  const params = (scan?.recipe as { params?: { cornersFraction?: Quad | null } } | undefined)?.params;
  const [quad, setQuad] = useState<Quad>(params?.cornersFraction ?? INSET);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const rerun = async () => {
    setError(null);
    setBusy(true);
    try {
      await api('POST', `/api/photos/${photo.id}/scan`, { corners: quad });
      onQueued();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="scan-edit" data-testid="scan-edit">
      <div class="scan-edit-image">
        <img class="scan-edit-original" src={`/api/photos/${photo.id}/file`} alt="Original" />
        <QuadEditor quad={quad} aspect={(photo.width ?? 4) / (photo.height ?? 3)} onChange={setQuad} />
      </div>
      <button type="button" disabled={busy} onClick={rerun} data-testid="scan-rerun">
        {busy ? 'Cropping…' : 'Crop again with these corners'}
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

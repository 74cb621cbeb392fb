import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type CatalogEntry, errorText, type Photo } from '../api';
import { onWs } from '../ws';
import { CatalogOptions } from './catalog-options';
import { ModeBanner, ModeBar, smileColour, useModeState } from './modes';
import { QuadEditor, useScanMode } from './scan';

/** Either shape is accepted: `{ x, y, w, h }` or the detector's `{ box: [x, y, w, h] }`. */
interface Face {
  x?: number;
  y?: number;
  w?: number;
  h?: number;
  box?: [number, number, number, number];
  score?: number;
  /** P(happy), sent while the smile shutter is armed. */
  smile?: number;
}

function boxOf(f: Face): [number, number, number, number] {
  return f.box ?? [f.x ?? 0, f.y ?? 0, f.w ?? 0, f.h ?? 0];
}

interface FacesEvent {
  width: number;
  height: number;
  faces: Face[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Live preview as an MJPEG <img> (works on iPhone Safari, which has no MSE), face boxes on top, the shutter. */
export function Viewfinder() {
  const [faces, setFaces] = useState<FacesEvent | null>(null);
  const [streamKey, setStreamKey] = useState(0);
  const [capturing, setCapturing] = useState(false);
  const [countdown, setCountdown] = useState(0);
  const [timer, setTimer] = useState(0);
  const [burst, setBurst] = useState(1);
  const [ev, setEv] = useState(0);
  const [recipe, setRecipe] = useState('');
  const [catalog, setCatalog] = useState<{ filters: CatalogEntry[]; recipes: CatalogEntry[] }>({
    filters: [],
    recipes: [],
  });
  const [last, setLast] = useState<Photo | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [cameraState, setCameraState] = useState<string | null>(null);
  const facesTimer = useRef<number>();
  const mode = useModeState();
  const [scanOn, setScanOn] = useState(false);
  const scan = useScanMode(scanOn);
  const smileThreshold = mode.mode === 'smile-shutter' ? mode.smiling?.threshold : undefined;

  useEffect(() => {
    if (mode.state !== 'idle' || !mode.photoId) return;
    api<{ photo: Photo }>('GET', `/api/photos/${mode.photoId}`)
      .then((r) => setLast(r.photo))
      .catch(() => {});
    setStreamKey((k) => k + 1);
  }, [mode.state, mode.photoId]);

  useEffect(() => {
    api<typeof catalog>('GET', '/api/filters')
      .then(setCatalog)
      .catch(() => {});
    const offFaces = onWs('faces', (d) => {
      setFaces(d as FacesEvent);
      // Boxes vanish if detection stops reporting, rather than freezing on screen.
      window.clearTimeout(facesTimer.current);
      facesTimer.current = window.setTimeout(() => setFaces(null), 1500);
    });
    const offCapture = onWs('capture', (d) => {
      const phase = (d as { phase?: string }).phase;
      if (phase === 'started') setCapturing(true);
    });
    const offCamera = onWs('camera', (d) => setCameraState((d as { state?: string }).state ?? null));
    return () => {
      offFaces();
      offCapture();
      offCamera();
      window.clearTimeout(facesTimer.current);
    };
  }, []);

  const shoot = async () => {
    if (capturing || countdown > 0) return;
    setError(null);
    for (let s = timer; s > 0; s--) {
      setCountdown(s);
      await sleep(1000);
    }
    setCountdown(0);
    setCapturing(true);
    try {
      // scan mode: one photo, its restoration follows as the photo's `scan` variant
      if (scanOn) setLast(await scan.capture());
      else
        for (let i = 0; i < burst; i++) {
          const res = await api<{ photo: Photo }>('POST', '/api/capture', { ev, ...(recipe ? { recipe } : {}) });
          setLast(res.photo);
        }
    } catch (e) {
      setError(errorText(e));
    } finally {
      setCapturing(false);
      // The preview process restarts after a still on some strategies: reconnect the <img>.
      setStreamKey((k) => k + 1);
    }
  };

  return (
    <div class="viewfinder">
      <div class="preview">
        <img
          key={streamKey}
          src={`/stream.mjpg?v=${streamKey}`}
          alt="Live preview"
          data-testid="preview"
          onError={() => window.setTimeout(() => setStreamKey((k) => k + 1), 2000)}
        />
        {faces && faces.faces.length > 0 && (
          <svg
            class="faces"
            aria-hidden="true"
            viewBox={`0 0 ${faces.width} ${faces.height}`}
            preserveAspectRatio="xMidYMid meet"
            data-testid="faces"
          >
            {faces.faces.map((f, i) => (
              <rect
                key={i}
                x={boxOf(f)[0]}
                y={boxOf(f)[1]}
                width={boxOf(f)[2]}
                height={boxOf(f)[3]}
                style={
                  smileColour(f.smile, smileThreshold) ? { stroke: smileColour(f.smile, smileThreshold) } : undefined
                }
                data-smile={f.smile}
              />
            ))}
          </svg>
        )}
        {scanOn && scan.quad && (
          <QuadEditor quad={scan.quad} aspect={4 / 3} guess={scan.guess} onChange={scan.setDragged} />
        )}
        {countdown > 0 && <div class="countdown">{countdown}</div>}
        {mode.state === 'countdown' && (
          <div class="countdown" data-testid="mode-countdown">
            {mode.countdown}
          </div>
        )}
        <ModeBanner mode={mode} />
        {capturing && <div class="capturing">Capturing…</div>}
        {cameraState && !['streaming', 'capturing', 'starting'].includes(cameraState) && (
          <div class="capturing">Camera: {cameraState}</div>
        )}
      </div>
      <div class="controls">
        <label>
          Timer
          <select value={timer} onChange={(e) => setTimer(Number(e.currentTarget.value))}>
            <option value={0}>Off</option>
            <option value={3}>3 s</option>
            <option value={10}>10 s</option>
          </select>
        </label>
        <label>
          Burst
          <select value={burst} onChange={(e) => setBurst(Number(e.currentTarget.value))}>
            <option value={1}>1</option>
            <option value={3}>3</option>
            <option value={5}>5</option>
          </select>
        </label>
        <label>
          Look
          <select value={recipe} onChange={(e) => setRecipe(e.currentTarget.value)} data-testid="recipe">
            <option value="">None</option>
            <CatalogOptions catalog={catalog} />
          </select>
        </label>
        <label>
          Scan
          <input
            type="checkbox"
            checked={scanOn}
            onChange={(e) => setScanOn(e.currentTarget.checked)}
            data-testid="scan-mode"
          />
        </label>
        {scanOn && !scan.guess && (
          <button type="button" onClick={scan.reset} data-testid="scan-reset">
            Detect again
          </button>
        )}
      </div>
      {scanOn && (
        <p class="muted mode-message" data-testid="scan-status">
          {scan.quad
            ? scan.guess
              ? 'Print found: drag a corner if the outline is off'
              : 'Your outline is used for the scan'
            : 'Looking for a print…'}
        </p>
      )}
      <ModeBar mode={mode} onPhoto={setLast} />
      <label class="ev">
        Exposure {ev > 0 ? '+' : ''}
        {ev.toFixed(1)} EV
        <input
          type="range"
          min={-2}
          max={2}
          step={0.1}
          value={ev}
          onInput={(e) => setEv(Number(e.currentTarget.value))}
        />
      </label>
      <div class="shutter-row">
        {last ? (
          <a class="last" href={`#/gallery/${last.id}`} title="Last photo">
            <img src={`/api/photos/${last.id}/thumb`} alt="Last shot" data-testid="last-photo" />
          </a>
        ) : (
          <span class="last" />
        )}
        <button
          type="button"
          class="shutter"
          aria-label="Take a photo"
          onClick={shoot}
          disabled={capturing || countdown > 0}
          data-testid="shutter"
        />
        <span class="last" />
      </div>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

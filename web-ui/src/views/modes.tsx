import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, type Photo } from '../api';
import { onWs } from '../ws';

/** The armed capture mode as the daemon reports it (`GET /api/modes`, WebSocket `mode`). */
export interface ModeState {
  mode: 'smile-shutter' | 'gesture-shutter' | 'best-shot' | null;
  state: 'idle' | 'armed' | 'countdown' | 'capturing';
  expiresAt?: number;
  smiling?: { smiling: number; total: number; streak: number; needed: number; threshold?: number };
  handRaised?: boolean;
  countdown?: number;
  message?: string;
  photoId?: string;
}

export function useModeState(): ModeState {
  const [mode, setMode] = useState<ModeState>({ mode: null, state: 'idle' });
  useEffect(() => {
    api<{ mode: ModeState }>('GET', '/api/modes')
      .then((r) => setMode(r.mode))
      .catch(() => {});
    return onWs('mode', (d) => setMode(d as ModeState));
  }, []);
  return mode;
}

/**
 * Smile score 0..1 as a colour: green when the face counts as smiling (score ≥ the shutter's threshold, the same test
 * as the "2 of 3 smiling" count), else from red (no smile) towards amber as the score nears the threshold. Without a
 * threshold (none reported yet) the score alone runs red → green.
 */
export function smileColour(smile: number | undefined, threshold?: number): string | undefined {
  if (typeof smile !== 'number') return undefined;
  const s = Math.max(0, Math.min(1, smile));
  const hue = threshold === undefined ? s * 120 : s >= threshold ? 120 : (s / threshold) * 45;
  return `hsl(${Math.round(hue)} 90% 50%)`;
}

const TITLES = { 'smile-shutter': 'Smile shutter', 'gesture-shutter': 'Gesture shutter', 'best-shot': 'Best shot' };

/** What the viewfinder says over the preview while a mode is armed. */
export function ModeBanner({ mode, smiling }: { mode: ModeState; smiling?: { smiling: number; total: number } }) {
  if (mode.state === 'idle') return null;
  let text = `${mode.mode ? TITLES[mode.mode] : 'Mode'}: `;
  if (mode.state === 'capturing') text += 'taking the photo…';
  else if (mode.state === 'countdown') text += 'get ready!';
  else if (mode.mode === 'smile-shutter') {
    const s = smiling ?? mode.smiling;
    text += !s || s.total === 0 ? 'waiting for faces' : `${s.smiling} of ${s.total} smiling`;
  } else if (mode.mode === 'gesture-shutter')
    text += mode.handRaised ? 'hand raised — hold it' : 'raise a hand above your shoulder';
  return (
    <div class="mode-banner" data-testid="mode-banner" data-state={mode.state}>
      {text}
    </div>
  );
}

/** Buttons that arm the smile / gesture shutter or take a best shot, and cancel an armed mode. */
export function ModeBar({ mode, onPhoto }: { mode: ModeState; onPhoto: (p: Photo) => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = async (fn: () => Promise<void>) => {
    setError(null);
    setBusy(true);
    try {
      await fn();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  const arm = (m: 'smile-shutter' | 'gesture-shutter') => run(() => api('POST', `/api/modes/${m}`, {}));
  const bestShot = () =>
    run(async () => {
      const r = await api<{ photo: Photo }>('POST', '/api/modes/best-shot', {});
      onPhoto(r.photo);
    });
  const night = useNightShot(onPhoto, setError);
  const armed = mode.state === 'armed' || mode.state === 'countdown';
  return (
    <div class="modes">
      <div class="mode-buttons">
        {armed ? (
          <button type="button" onClick={() => run(() => api('POST', '/api/modes/disarm', {}))} data-testid="disarm">
            Cancel {mode.mode ? TITLES[mode.mode].toLowerCase() : ''}
          </button>
        ) : (
          <>
            <button type="button" disabled={busy} onClick={() => arm('smile-shutter')} data-testid="arm-smile">
              Smile
            </button>
            <button type="button" disabled={busy} onClick={() => arm('gesture-shutter')} data-testid="arm-gesture">
              Gesture
            </button>
            <button type="button" disabled={busy} onClick={bestShot} data-testid="best-shot">
              {busy ? 'Best shot…' : 'Best shot'}
            </button>
            <button type="button" disabled={busy || night.taking} onClick={() => run(night.take)} data-testid="night">
              {night.taking ? 'Night…' : 'Night'}
            </button>
          </>
        )}
      </div>
      {mode.state === 'idle' && mode.message && (
        <p class="muted mode-message" data-testid="mode-message">
          {mode.message}
        </p>
      )}
      {night.status && (
        <p class="muted mode-message" data-testid="night-status">
          {night.status}
        </p>
      )}
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

interface JobEvent {
  id: string;
  progress: number;
  state: string;
  error?: string;
}

/**
 * Night mode from the phone: POST /api/modes/night-burst takes the burst (hold still) and queues the merge; the
 * merge's job events show its progress, and the merged photo arrives as a new capture with `night` in it.
 */
function useNightShot(onPhoto: (p: Photo) => void, onError: (e: string) => void) {
  const [taking, setTaking] = useState(false);
  const [status, setStatus] = useState<string | null>(null);
  const job = useRef<string | null>(null);
  useEffect(() => {
    const offJob = onWs('job', (d) => {
      const j = d as JobEvent;
      if (j.id !== job.current) return;
      if (j.state === 'running' || j.state === 'queued')
        setStatus(`Night shot: merging… ${Math.round(j.progress * 100)} %`);
      else if (j.state !== 'done') {
        job.current = null;
        setStatus(null);
        onError(`Night shot ${j.state}${j.error ? `: ${j.error}` : ''}`);
      }
    });
    const offCapture = onWs('capture', (d) => {
      const e = d as { phase?: string; photoId?: string };
      if (e.phase !== 'done' || !e.photoId || !job.current) return;
      api<{ photo: Photo }>('GET', `/api/photos/${e.photoId}`)
        .then((r) => {
          if (!r.photo.night) return;
          job.current = null;
          const n = r.photo.night;
          setStatus(
            n.fellBack
              ? `Night shot: nothing lined up, kept the first frame (${n.reason ?? ''})`
              : `Night shot: ${n.merged} of ${n.frames} frames merged`,
          );
          onPhoto(r.photo);
        })
        .catch(() => {});
    });
    return () => {
      offJob();
      offCapture();
    };
  }, [onPhoto, onError]);
  const take = async () => {
    setTaking(true);
    setStatus('Night shot: hold still…');
    // a small burst may be merged before this response arrives: its photo is taken from then on
    job.current = 'pending';
    try {
      const r = await api<{ night: { jobId: string; frames: number } }>('POST', '/api/modes/night-burst', {});
      if (job.current === 'pending') {
        job.current = r.night.jobId;
        setStatus(`Night shot: ${r.night.frames} frames taken, merging…`);
      }
    } catch (e) {
      job.current = null;
      setStatus(null);
      throw e;
    } finally {
      setTaking(false);
    }
  };
  return { taking, status, take };
}

import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, errorText, formatBytes } from '../api';
import { onWs } from '../ws';

export interface SyncTargetStatus {
  name: string;
  queued: number;
  uploading: number;
  done: number;
  failed: number;
  pendingBytes: number;
  lastSuccess: string | null;
  lastError: string | null;
}

export interface SyncStatus {
  targets: SyncTargetStatus[];
  paused: boolean;
  running: boolean;
  queueLength: number;
  mqtt?: { connected: boolean; lastError: string | null } | null;
}

const when = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : 'never');

/** Settings → Sync: targets by name (never remotes or credentials), queue, last error in words, actions. */
export function SyncSettings() {
  const [s, setS] = useState<SyncStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [absent, setAbsent] = useState(false);

  const load = () =>
    api<SyncStatus>('GET', '/api/sync')
      .then((r) => {
        setS(r);
        setError(null);
      })
      .catch((e) => {
        // A daemon without the sync component: the section is simply not shown.
        if (e instanceof ApiError && e.code === 'sync-unavailable') setAbsent(true);
        else setError(errorText(e));
      });

  useEffect(() => {
    void load();
    const t = window.setInterval(load, 4000);
    const off = onWs('sync', () => void load());
    return () => {
      window.clearInterval(t);
      off();
    };
  }, []);

  const act = async (action: 'now' | 'retry' | 'pause' | 'resume') => {
    setBusy(true);
    try {
      setS(await api<SyncStatus>('POST', `/api/sync/${action}`));
      setError(null);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  if (absent) return null;
  return (
    <section class="sync-settings" data-testid="sync-settings">
      <h3>Sync</h3>
      {error && <p class="error">{error}</p>}
      {s && s.targets.length === 0 && (
        <p class="hint">
          No sync targets. Add <code>sync.targets</code> to the config file over SSH (see the README).
        </p>
      )}
      {s?.targets.map((t) => (
        <div class="sync-target" key={t.name} data-target={t.name}>
          <strong>{t.name}</strong>
          <p>
            {t.done} uploaded · {t.queued + t.uploading} waiting{t.failed ? ` · ${t.failed} failed` : ''}
            {t.pendingBytes ? ` · ${formatBytes(t.pendingBytes)} to send` : ''}
          </p>
          <p class="hint">Last success: {when(t.lastSuccess)}</p>
          {t.lastError && (
            <p class="error" data-testid="sync-error">
              {t.lastError}
            </p>
          )}
        </div>
      ))}
      {s && s.targets.length > 0 && (
        <div class="actions">
          <button type="button" class="primary" disabled={busy} onClick={() => act('now')}>
            Sync now
          </button>
          {s.targets.some((t) => t.failed > 0) && (
            <button type="button" disabled={busy} onClick={() => act('retry')}>
              Retry failed
            </button>
          )}
          {s.paused ? (
            <button type="button" disabled={busy} onClick={() => act('resume')}>
              Resume
            </button>
          ) : (
            <button type="button" disabled={busy} onClick={() => act('pause')}>
              Pause
            </button>
          )}
          {s.paused && <span class="tag">paused</span>}
        </div>
      )}
    </section>
  );
}

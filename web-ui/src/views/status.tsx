import { useEffect, useState } from 'preact/hooks';
import { api, errorText, formatBytes } from '../api';
import { onWs } from '../ws';
import type { SyncStatus } from './sync';

interface StatusReport {
  storage?: { freeBytes: number; totalBytes: number; minFreeBytes?: number; photoCount?: number };
  system?: { cpuTempC?: number | null; throttled?: string[] | null; uptimeS?: number; loadAvg?: number[] };
  models?: { name: string; present: boolean; loaded?: boolean; error?: string }[];
  versions?: Record<string, string>;
  camera: { state: string; lastError?: string };
  configErrors: string[];
  web?: { viewers: number; wsClients: number };
  gpio?: {
    backend: string;
    error?: string | null;
    filter?: { kind: string; us: number; detail: string };
    warnings?: string[];
  };
  sync?: Omit<SyncStatus, 'mqtt'> & { pendingBytes: number; lastSuccess: string | null };
  mqtt?: { connected: boolean; lastError: string | null } | null;
}

export function Status() {
  const [s, setS] = useState<StatusReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<'shutdown' | 'reboot' | null>(null);
  const [done, setDone] = useState<string | null>(null);

  useEffect(() => {
    const load = () =>
      api<StatusReport>('GET', '/api/status')
        .then((r) => {
          setS(r);
          setError(null);
        })
        .catch((e) => setError(errorText(e)));
    void load();
    const t = window.setInterval(load, 5000);
    const off = onWs('status', () => void load());
    const offCam = onWs('camera', (d) =>
      setS((prev) => (prev ? { ...prev, camera: d as StatusReport['camera'] } : prev)),
    );
    return () => {
      window.clearInterval(t);
      off();
      offCam();
    };
  }, []);

  const act = async (action: 'shutdown' | 'reboot') => {
    setConfirm(null);
    try {
      await api('POST', `/api/system/${action}`);
      setDone(
        action === 'shutdown'
          ? 'The camera is shutting down. Wait for the green light to stop before unplugging.'
          : 'The camera is restarting…',
      );
    } catch (e) {
      setError(errorText(e));
    }
  };

  if (!s) return <p class="muted center">{error ?? 'Loading status…'}</p>;
  const st = s.storage;
  const low = st && st.minFreeBytes !== undefined && st.freeBytes < st.minFreeBytes * 2;
  const used = st ? Math.max(0, Math.min(1, 1 - st.freeBytes / st.totalBytes)) : 0;
  return (
    <div class="status">
      <h2>Status</h2>
      {error && <p class="error">{error}</p>}
      {done && <div class="banner warn">{done}</div>}
      <section>
        <h3>Camera</h3>
        <p data-testid="camera-state">
          <span class={`dot ${s.camera.state}`} /> {s.camera.state}
        </p>
        {s.camera.lastError && <p class="error">Last error: {s.camera.lastError}</p>}
      </section>
      {st && (
        <section>
          <h3>Storage</h3>
          <progress max={1} value={used} />
          <p>
            {formatBytes(st.freeBytes)} free of {formatBytes(st.totalBytes)}
            {st.photoCount !== undefined && ` · ${st.photoCount} photos`}
          </p>
          {low && (
            <p class="error" data-testid="low-space">
              Storage is almost full: below {formatBytes(st.minFreeBytes ?? 0)} the camera refuses new photos. Download
              and delete some.
            </p>
          )}
        </section>
      )}
      {s.system && (
        <section>
          <h3>System</h3>
          <p>
            CPU temperature: {s.system.cpuTempC == null ? 'unknown' : `${s.system.cpuTempC.toFixed(1)} °C`}
            {s.system.cpuTempC != null && s.system.cpuTempC >= 80 && <span class="error"> (hot)</span>}
          </p>
          <p>
            Throttling:{' '}
            {s.system.throttled == null ? (
              'unknown'
            ) : s.system.throttled.length ? (
              <span class="error">{s.system.throttled.join(', ')}</span>
            ) : (
              'none'
            )}
          </p>
          {s.system.uptimeS !== undefined && (
            <p>
              Up for {Math.floor(s.system.uptimeS / 3600)} h {Math.floor((s.system.uptimeS % 3600) / 60)} min
            </p>
          )}
        </section>
      )}
      {s.gpio && s.gpio.backend !== 'none' && (
        <section>
          <h3>Buttons</h3>
          <p data-testid="gpio-filter">
            Backend: {s.gpio.backend}
            {s.gpio.filter &&
              ` · spike filter: ${s.gpio.filter.kind === 'off' ? 'off' : `${s.gpio.filter.detail}, ${s.gpio.filter.us} µs`}`}
          </p>
          {s.gpio.error && <p class="error">{s.gpio.error}</p>}
          {(s.gpio.warnings ?? []).map((w) => (
            <p class="error" data-testid="gpio-warning" key={w}>
              {w}
            </p>
          ))}
        </section>
      )}
      {s.sync && s.sync.targets.length > 0 && (
        <section data-testid="sync-status">
          <h3>Sync</h3>
          <p>
            {s.sync.queueLength} file(s) waiting ({formatBytes(s.sync.pendingBytes)}) · last success:{' '}
            {s.sync.lastSuccess ? new Date(s.sync.lastSuccess).toLocaleString() : 'never'}
            {s.sync.paused && ' · paused'}
          </p>
          {s.sync.targets
            .filter((t) => t.lastError)
            .map((t) => (
              <p class="error" key={t.name}>
                {t.name}: {t.lastError}
              </p>
            ))}
        </section>
      )}
      {s.mqtt && (
        <section data-testid="mqtt-status">
          <h3>Home Assistant (MQTT)</h3>
          <p>
            <span class={`dot ${s.mqtt.connected ? 'streaming' : 'crashed'}`} />{' '}
            {s.mqtt.connected ? 'connected' : 'not connected'}
          </p>
          {s.mqtt.lastError && <p class="error">{s.mqtt.lastError}</p>}
        </section>
      )}
      {s.configErrors.length > 0 && (
        <section>
          <h3>Config</h3>
          <p class="error">
            The config file has {s.configErrors.length} error(s). <a href="#/settings">See settings</a>
          </p>
        </section>
      )}
      {s.models && (
        <section>
          <h3>Models</h3>
          <ul>
            {s.models.map((m) => (
              <li key={m.name}>
                {m.name}:{' '}
                {m.error ? (
                  <span class="error">{m.error}</span>
                ) : m.present ? (
                  m.loaded ? (
                    'loaded'
                  ) : (
                    'installed'
                  )
                ) : (
                  <span class="error">missing</span>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}
      {s.versions && (
        <section>
          <h3>Versions</h3>
          <ul>
            {Object.entries(s.versions).map(([k, v]) => (
              <li key={k}>
                {k}: {v}
              </li>
            ))}
          </ul>
        </section>
      )}
      <section>
        <h3>This phone</h3>
        <button
          type="button"
          onClick={() =>
            api('POST', '/api/logout')
              .catch(() => {})
              .finally(() => location.reload())
          }
        >
          Log out
        </button>
      </section>
      <section class="power">
        <h3>Power</h3>
        {confirm ? (
          <div class="actions">
            <button type="button" class="danger" onClick={() => act(confirm)}>
              Yes, {confirm}
            </button>
            <button type="button" onClick={() => setConfirm(null)}>
              Cancel
            </button>
          </div>
        ) : (
          <div class="actions">
            <button type="button" onClick={() => setConfirm('shutdown')}>
              Shut down
            </button>
            <button type="button" onClick={() => setConfirm('reboot')}>
              Reboot
            </button>
          </div>
        )}
      </section>
    </div>
  );
}

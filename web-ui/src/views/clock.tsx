import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';

interface Clock {
  now: number;
  synced: boolean;
  /** `ntp`: systemd-timesyncd keeps the clock; the camera refuses a time from the phone. */
  owner?: string;
  message?: string;
}

/** The Pi has no RTC and is often offline: when its clock is unset or off, offer this phone's time. */
export function ClockBanner() {
  const [clock, setClock] = useState<{ server: Clock; fetchedAt: number } | null>(null);
  const [msg, setMsg] = useState<string | null>(null);

  useEffect(() => {
    api<{ clock?: Clock }>('GET', '/api/status')
      .then((s) => s.clock && setClock({ server: s.clock, fetchedAt: Date.now() }))
      .catch(() => {});
  }, []);

  if (!clock) return null;
  const skewS = Math.round((clock.fetchedAt - clock.server.now) / 1000);
  if (!msg && clock.server.synced && Math.abs(skewS) < 120) return null;
  // NTP owns a synchronised clock: the phone is the one that is off, and the camera would refuse its time.
  if (!msg && clock.server.owner === 'ntp') return null;

  const setTime = async () => {
    try {
      await api('POST', '/api/time', { now: Date.now() });
      setMsg('Camera clock set.');
      setClock({ server: { now: Date.now(), synced: true }, fetchedAt: Date.now() });
    } catch (e) {
      setMsg(errorText(e));
    }
  };

  return (
    <div class="banner warn" data-testid="clock-banner">
      {msg ?? (
        <>
          The camera's clock is{' '}
          {clock.server.synced ? `${Math.abs(skewS)} s ${skewS > 0 ? 'behind' : 'ahead'}` : 'not set'}.{' '}
          <button type="button" class="link" onClick={setTime}>
            Use this phone's time
          </button>
        </>
      )}
    </div>
  );
}

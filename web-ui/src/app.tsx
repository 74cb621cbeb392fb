import type { JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, onUnauthorized } from './api';
import { ClockBanner } from './views/clock';
import { Gallery } from './views/gallery';
import { Login, NoPassword } from './views/login';
import { People } from './views/people';
import { Settings } from './views/settings';
import { Status } from './views/status';
import { Viewer } from './views/viewer';
import { Viewfinder } from './views/viewfinder';
import { connectWs, disconnectWs, onWsState } from './ws';

interface SessionInfo {
  authenticated: boolean;
  passwordSet: boolean;
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/');
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return hash;
}

const TABS = [
  ['#/', 'Camera'],
  ['#/gallery', 'Gallery'],
  ['#/people', 'People'],
  ['#/settings', 'Settings'],
  ['#/status', 'Status'],
] as const;

export function App() {
  const [session, setSession] = useState<SessionInfo | null>(null);
  const [wsUp, setWsUp] = useState(true);
  const hash = useHash();

  const refresh = useCallback(() => {
    api<SessionInfo>('GET', '/api/login')
      .then(setSession)
      .catch(() => setTimeout(refresh, 2000));
  }, []);

  useEffect(() => {
    refresh();
    return onUnauthorized(() => setSession((s) => (s ? { ...s, authenticated: false } : s)));
  }, [refresh]);

  useEffect(() => {
    if (!session?.authenticated) return;
    connectWs();
    const off = onWsState(setWsUp);
    return () => {
      off();
      disconnectWs();
    };
  }, [session?.authenticated]);

  if (!session) return <div class="center muted">Connecting to the camera…</div>;
  if (!session.authenticated) {
    if (!session.passwordSet) return <NoPassword onRetry={refresh} expiredLink={hash === '#/login-link-expired'} />;
    return <Login onLoggedIn={refresh} expiredLink={hash === '#/login-link-expired'} />;
  }

  const photoMatch = /^#\/gallery\/([A-Za-z0-9_-]+)$/.exec(hash);
  let view: JSX.Element;
  if (photoMatch) view = <Viewer id={photoMatch[1]} />;
  else if (hash.startsWith('#/gallery'))
    view = <Gallery key={hash} person={/[?&]person=(person-[0-9a-f]{8})\b/.exec(hash)?.[1]} />;
  else if (hash.startsWith('#/people')) view = <People />;
  else if (hash.startsWith('#/settings')) view = <Settings />;
  else if (hash.startsWith('#/status')) view = <Status />;
  else view = <Viewfinder />;

  const active = photoMatch ? '#/gallery' : (TABS.find(([h]) => h !== '#/' && hash.startsWith(h))?.[0] ?? '#/');
  return (
    <div class="shell">
      <ClockBanner />
      {!wsUp && <div class="banner warn">Reconnecting to the camera…</div>}
      <main class="content">{view}</main>
      <nav class="tabs">
        {TABS.map(([href, label]) => (
          <a
            key={href}
            href={href}
            class={active === href ? 'tab active' : 'tab'}
            aria-current={active === href ? 'page' : undefined}
          >
            {label}
          </a>
        ))}
      </nav>
    </div>
  );
}

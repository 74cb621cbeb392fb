import { useState } from 'preact/hooks';
import { ApiError, api, errorText } from '../api';

export function Login({ onLoggedIn, expiredLink }: { onLoggedIn: () => void; expiredLink: boolean }) {
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(
    expiredLink ? 'That login link has expired or was already used. Log in with the password.' : null,
  );

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api('POST', '/api/login', { password });
      if (location.hash === '#/login-link-expired') location.hash = '#/';
      onLoggedIn();
    } catch (err) {
      if (err instanceof ApiError && err.code === 'rate-limited')
        setError(`Too many attempts. Try again in ${err.retryAfter ?? 60} s.`);
      else if (err instanceof ApiError && err.code === 'no-password') onLoggedIn();
      else setError(err instanceof ApiError && err.status === 401 ? 'Wrong password.' : errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="login" onSubmit={submit}>
      <h1>Pinhole</h1>
      <label>
        Password
        <input
          type="password"
          name="password"
          autocomplete="current-password"
          value={password}
          onInput={(e) => setPassword(e.currentTarget.value)}
          required
        />
      </label>
      <button type="submit" class="primary" disabled={busy || password.length === 0}>
        {busy ? 'Logging in…' : 'Log in'}
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

export function NoPassword({ onRetry, expiredLink }: { onRetry: () => void; expiredLink: boolean }) {
  return (
    <div class="login">
      <h1>Pinhole</h1>
      {expiredLink && <p class="error">That login link has expired or was already used.</p>}
      <p>No password is set yet, so the camera cannot be used from a phone.</p>
      <p>Connect to the camera over SSH and run:</p>
      <pre class="cmd">sudo pinhole passwd</pre>
      <p class="muted">There is no default password. Once it is set, log in here.</p>
      <button type="button" onClick={onRetry}>
        I have set it
      </button>
    </div>
  );
}

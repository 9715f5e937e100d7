import { useState } from 'preact/hooks';
import { api, ApiError, errorText, getToken, setToken } from '../lib/api';
import { navigate, useQuery } from '../lib/router';

function safeNext(n: string | null): string {
  // Only same-origin paths; never back to /login.
  if (!n || !n.startsWith('/') || n.startsWith('//') || n.startsWith('/login')) return '/';
  return n;
}

export function Login() {
  const q = useQuery();
  const next = safeNext(q.get('next'));
  const [token, setTok] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const had = !!getToken();

  const submit = async (e: Event) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setErr('Paste an API token first.');
      return;
    }
    setBusy(true);
    setErr('');
    const old = getToken();
    setToken(t);
    try {
      await api('/api/agents', { query: { limit: 1 } });
      navigate(next, { replace: true });
    } catch (e2) {
      if (e2 instanceof ApiError && e2.status === 401) {
        setToken(old === t ? '' : old);
        setErr('The server rejected this token.');
      } else if (e2 instanceof ApiError && e2.status === 403) {
        // Valid token, limited role: still signed in.
        navigate(next, { replace: true });
      } else {
        setErr(errorText(e2));
      }
    } finally {
      setBusy(false);
    }
  };

  return (
    <div class="page login-page">
      <form class="card login-card" onSubmit={submit} data-testid="login-form">
        <h1>Sign in to kanade</h1>
        <p class="muted">
          {had ? 'Your token was not accepted (it may have expired). ' : 'This server requires a token. '}
          Use the API token your administrator gave you, or create one with <code>kanade token create</code>.
        </p>
        <label class="field">
          <span>API token</span>
          <input
            type="password"
            name="token"
            autocomplete="current-password"
            value={token}
            onInput={(e) => setTok((e.currentTarget as HTMLInputElement).value)}
            data-testid="login-token"
            autoFocus
          />
        </label>
        {err && (
          <div class="alert alert-error" role="alert" data-testid="login-error">
            {err}
          </div>
        )}
        <button class="btn btn-primary" type="submit" disabled={busy} data-testid="login-submit">
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p class="muted small">The token is kept in this browser only (localStorage) and sent as a Bearer header.</p>
      </form>
    </div>
  );
}

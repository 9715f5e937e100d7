import type { ComponentChildren } from 'preact';
import { useEffect, useErrorBoundary, useState } from 'preact/hooks';
import { Link, match, useLocation } from './lib/router';
import { getToken, setToken } from './lib/api';
import { applyTheme, getTheme, nextTheme, type Theme } from './theme';
import { Overview } from './pages/overview';
import { Agents, AgentDetail } from './pages/agents';
import { Jobs, JobPage } from './pages/jobs';
import { Executions, ExecutionDetail } from './pages/executions';
import { Schedules, SchedulePage } from './pages/schedules';
import { Audit } from './pages/audit';
import { Login } from './pages/login';

const NAV = [
  { href: '/', label: 'Overview', id: 'overview' },
  { href: '/agents', label: 'Agents', id: 'agents' },
  { href: '/jobs', label: 'Jobs', id: 'jobs' },
  { href: '/executions', label: 'Executions', id: 'executions' },
  { href: '/schedules', label: 'Schedules', id: 'schedules' },
  { href: '/audit', label: 'Audit', id: 'audit' },
];

function route(path: string) {
  let m: Record<string, string> | null;
  if (path === '/' || path === '') return <Overview />;
  if (match('/agents', path)) return <Agents />;
  if ((m = match('/agents/:pc', path))) return <AgentDetail pc={m.pc} />;
  if (match('/jobs', path)) return <Jobs />;
  if (match('/jobs/new', path)) return <JobPage id={null} />;
  if ((m = match('/jobs/:id', path))) return <JobPage id={m.id} />;
  if (match('/executions', path)) return <Executions />;
  if ((m = match('/executions/:id', path))) return <ExecutionDetail id={m.id} />;
  if (match('/schedules', path)) return <Schedules />;
  if (match('/schedules/new', path)) return <SchedulePage id={null} />;
  if ((m = match('/schedules/:id', path))) return <SchedulePage id={m.id} />;
  if (match('/audit', path)) return <Audit />;
  if (match('/login', path)) return <Login />;
  return (
    <div class="page" data-testid="not-found">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{path}</code>. <Link href="/">Go to the overview</Link>.
      </p>
    </div>
  );
}

function section(path: string): string {
  const first = path.split('/')[1] ?? '';
  return first === '' ? 'overview' : first;
}

/** A page that throws while rendering shows this instead of a blank screen. */
function Boundary({ children }: { children: ComponentChildren }) {
  const [err, reset] = useErrorBoundary((e) => console.error('kanade dashboard:', e));
  if (err) {
    return (
      <div class="page" data-testid="page-crash">
        <h1>Something went wrong on this page</h1>
        <div class="alert alert-error">{String((err as Error)?.message ?? err)}</div>
        <p>
          <button class="btn" onClick={reset}>
            Try again
          </button>{' '}
          <Link href="/">Back to the overview</Link>
        </p>
      </div>
    );
  }
  return <>{children}</>;
}

const THEME_LABEL: Record<Theme, string> = { system: 'Auto', light: 'Light', dark: 'Dark' };

export function App() {
  const { path } = useLocation();
  const [menu, setMenu] = useState(false);
  const [theme, setTheme] = useState<Theme>(getTheme());
  const [hasToken, setHasToken] = useState(!!getToken());
  useEffect(() => {
    setMenu(false);
    setHasToken(!!getToken());
  }, [path]);
  const cur = section(path);
  return (
    <div class="shell">
      <header class="topbar">
        <Link href="/" class="brand" aria-label="kanade overview">
          <span class="brand-mark" aria-hidden="true">
            k
          </span>
          kanade
        </Link>
        <button
          class="btn btn-ghost menu-btn"
          aria-expanded={menu}
          aria-controls="mainnav"
          data-testid="nav-toggle"
          onClick={() => setMenu(!menu)}
        >
          ☰ <span class="sr-only">Menu</span>
        </button>
        <nav id="mainnav" class={menu ? 'nav nav-open' : 'nav'} aria-label="Main">
          {NAV.map((n) => (
            <Link
              key={n.id}
              href={n.href}
              class={cur === n.id ? 'nav-link active' : 'nav-link'}
              aria-current={cur === n.id ? 'page' : undefined}
              data-testid={`nav-${n.id}`}
            >
              {n.label}
            </Link>
          ))}
        </nav>
        <div class="topbar-right">
          <button
            class="btn btn-ghost btn-small"
            data-testid="theme-toggle"
            title="Colour theme: automatic, light or dark"
            onClick={() => {
              const t = nextTheme(theme);
              applyTheme(t);
              setTheme(t);
            }}
          >
            {theme === 'dark' ? '☾' : theme === 'light' ? '☀' : '◐'} {THEME_LABEL[theme]}
          </button>
          {hasToken && (
            <button
              class="btn btn-ghost btn-small"
              data-testid="logout"
              onClick={() => {
                setToken('');
                setHasToken(false);
                window.location.assign('/login');
              }}
            >
              Sign out
            </button>
          )}
        </div>
      </header>
      <main class="main" key={path}>
        <Boundary>{route(path)}</Boundary>
      </main>
    </div>
  );
}

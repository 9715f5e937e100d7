import { useApi, useNow } from '../lib/hooks';
import type { Agent, Execution, Page, ScheduleItem } from '../lib/types';
import { Link } from '../lib/router';
import { Badge, Donut, ErrorBox, RatioBar, statusKind } from '../components';
import { relativeTime } from '../lib/format';
import { execCounts, execDone, isDormant, scheduleEnabled, whenText } from './common';

type Obj = Record<string, unknown>;

function num(v: unknown): number | undefined {
  return typeof v === 'number' && isFinite(v) ? v : undefined;
}

function obj(v: unknown): Obj | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}

/** Normalize {linux: 3} or [{os:"linux", count:3}] into [[name, count]]. */
function breakdown(v: unknown, nameKeys: string[]): [string, number][] {
  if (Array.isArray(v)) {
    return v
      .map((x): [string, number] => {
        const o = obj(x) ?? {};
        const name = nameKeys.map((k) => o[k]).find((n) => typeof n === 'string') as string | undefined;
        const n = num(o.count) ?? num(o.total) ?? (num(o.online) ?? 0) + (num(o.offline) ?? 0);
        return [name || '(unknown)', n];
      })
      .sort((a, b) => b[1] - a[1]);
  }
  const o = obj(v);
  if (!o) return [];
  return Object.entries(o)
    .map(([k, x]): [string, number] => [k || '(unknown)', num(x) ?? num(obj(x)?.count) ?? num(obj(x)?.total) ?? 0])
    .sort((a, b) => b[1] - a[1]);
}

export interface FleetHealth {
  status: string;
  known: number;
  online: number;
  offline: number;
  byOS: [string, number][];
  byVersion: [string, number][];
  components: { name: string; ok: boolean | null; text: string }[];
  results24h: [string, number][];
}

/** Read the /api/health rollup, tolerating a few plausible layouts. */
export function readHealth(h: unknown): FleetHealth {
  const root = obj(h) ?? {};
  const a = obj(root.agents) ?? obj(root.fleet) ?? root;
  const online = num(a.online) ?? 0;
  const known = num(a.known) ?? num(a.total) ?? online + (num(a.offline) ?? 0);
  const offline = num(a.offline) ?? Math.max(0, known - online);
  const components: FleetHealth['components'] = [];
  const addComp = (name: string, v: unknown) => {
    if (v === undefined || v === null) return;
    const o = obj(v);
    if (!o) {
      components.push({ name, ok: typeof v === 'boolean' ? v : v === 'ok', text: String(v) });
      return;
    }
    const raw = o.status ?? o.state;
    const st = typeof raw === 'string' ? raw.toLowerCase() : undefined;
    const lagMap = obj(o.lag);
    const lag = num(o.total_lag) ?? num(o.lag) ?? num(o.pending);
    const err = typeof o.error === 'string' ? o.error : '';
    let ok: boolean | null = null;
    if (o.ok === true || o.connected === true || st === 'ok' || st === 'connected' || st === 'running' || st === 'up') ok = true;
    else if (o.ok === false || o.connected === false || (st !== undefined && st !== '')) ok = false;
    else if (lag !== undefined) ok = true;
    const bits = [
      st ?? (o.connected !== undefined ? (o.connected ? 'connected' : 'disconnected') : ''),
      lag !== undefined ? `lag ${lag}` : '',
      lagMap && (lag ?? 0) > 0
        ? Object.entries(lagMap)
            .filter(([, n]) => typeof n === 'number' && n > 0)
            .map(([k, n]) => `${k} ${String(n)}`)
            .join(', ')
        : '',
      err,
    ].filter(Boolean);
    components.push({ name, ok: err ? false : ok, text: bits.join(' · ') || '—' });
  };
  addComp('broker', root.broker ?? root.nats);
  const proj = root.projectors ?? root.projector;
  if (Array.isArray(proj)) proj.forEach((p, i) => addComp(`projector ${String(obj(p)?.name ?? i)}`, p));
  else if (obj(proj) && !('status' in (proj as Obj)) && !('lag' in (proj as Obj)) && !('total_lag' in (proj as Obj)))
    Object.entries(proj as Obj).forEach(([k, v]) => addComp(`projector ${k}`, v));
  else addComp('projector', proj);
  addComp('store', root.store ?? root.db ?? root.sqlite);
  addComp('scheduler', root.scheduler);
  const dead = num(a.dead_letters) ?? num(root.dead_letters);
  if (dead) components.push({ name: 'dead letters', ok: false, text: `${dead} undecodable message${dead === 1 ? '' : 's'} recorded` });
  const r24 = a.results_24h ?? root.results_24h ?? root.results ?? root.results24h;
  return {
    status: typeof root.status === 'string' ? root.status : '',
    known,
    online,
    offline,
    byOS: breakdown(a.by_os ?? root.by_os, ['os', 'name']),
    byVersion: breakdown(a.by_version ?? root.by_version ?? a.by_agent_version, ['version', 'agent_version', 'name']),
    components,
    results24h: breakdown(r24, ['status', 'name']),
  };
}

function countBy(items: Agent[], key: (a: Agent) => string): [string, number][] {
  const m = new Map<string, number>();
  for (const a of items) m.set(key(a) || '(unknown)', (m.get(key(a) || '(unknown)') ?? 0) + 1);
  return [...m.entries()].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0]));
}

const SMALL_FLEET = 1000;

/**
 * OS / agent-version breakdown when /api/health does not carry one: a
 * small fleet is read in one page; a large one is counted per OS through
 * the server-side filter (three cheap count queries).
 */
function useBreakdown(h: FleetHealth | null): { byOS: [string, number][]; byVersion: [string, number][] } {
  const need = !!h && h.known > 0 && h.byOS.length === 0;
  const small = need && (h as FleetHealth).known <= SMALL_FLEET;
  const all = useApi<Page<Agent>>(small ? `/api/agents?limit=${SMALL_FLEET}` : null, { poll: 60000 });
  const big = need && !small;
  const linux = useApi<Page<Agent>>(big ? '/api/agents?os=linux&limit=1' : null, { poll: 60000 });
  const windows = useApi<Page<Agent>>(big ? '/api/agents?os=windows&limit=1' : null, { poll: 60000 });
  const darwin = useApi<Page<Agent>>(big ? '/api/agents?os=darwin&limit=1' : null, { poll: 60000 });
  if (!h) return { byOS: [], byVersion: [] };
  if (!need) return { byOS: h.byOS, byVersion: h.byVersion };
  if (small && all.data) {
    return { byOS: countBy(all.data.items, (a) => a.os), byVersion: h.byVersion.length ? h.byVersion : countBy(all.data.items, (a) => a.agent_version) };
  }
  if (big && linux.data && windows.data && darwin.data) {
    const rows: [string, number][] = [
      ['linux', linux.data.total],
      ['windows', windows.data.total],
      ['darwin', darwin.data.total],
    ];
    const other = h.known - rows.reduce((n, r) => n + r[1], 0);
    if (other > 0) rows.push(['other', other]);
    return { byOS: rows.filter((r) => r[1] > 0).sort((x, y) => y[1] - x[1]), byVersion: h.byVersion };
  }
  return { byOS: [], byVersion: h.byVersion };
}

function Breakdown({ title, rows, testid }: { title: string; rows: [string, number][]; testid: string }) {
  if (rows.length === 0) return null;
  const max = Math.max(...rows.map((r) => r[1]), 1);
  return (
    <div class="breakdown" data-testid={testid}>
      <h3>{title}</h3>
      {rows.slice(0, 8).map(([k, n]) => (
        <div class="bd-row" key={k}>
          <span class="bd-name">{k}</span>
          <span class="bd-bar">
            <span style={{ width: `${(100 * n) / max}%` }} />
          </span>
          <span class="bd-num">{n}</span>
        </div>
      ))}
    </div>
  );
}

export function Overview() {
  useNow();
  const health = useApi<unknown>('/api/health', { poll: 10000, accept: [503] });
  const execs = useApi<Page<Execution>>('/api/executions?limit=8', { poll: 10000 });
  const scheds = useApi<Page<ScheduleItem>>('/api/schedules?limit=500', { poll: 30000 });
  const h = health.data !== undefined ? readHealth(health.data) : null;
  const bd = useBreakdown(h);

  const attention = (scheds.data?.items ?? [])
    .map((s) => {
      const why: string[] = [];
      if (!scheduleEnabled(s)) why.push('disabled');
      if (isDormant(s)) why.push('dormant');
      if ((s.coverage?.failed ?? 0) > 0) why.push(`${s.coverage?.failed} failing`);
      return { s, why };
    })
    .filter((x) => x.why.length > 0);

  return (
    <div class="page">
      <div class="page-head">
        <h1>Overview</h1>
        {h?.status && (
          <Badge kind={h.status === 'ok' ? 'ok' : 'fail'} testid="health-status">
            {h.status}
          </Badge>
        )}
      </div>
      <ErrorBox error={health.error} />
      <section class="grid-2">
        <div class="card fleet" data-testid="fleet-health">
          <h2>Fleet</h2>
          {h ? (
            <div class="fleet-body">
              <Donut on={h.online} off={h.offline} />
              <div class="stats">
                <div class="stat">
                  <span class="stat-num" data-testid="health-known">
                    {h.known}
                  </span>
                  <span class="stat-label">known</span>
                </div>
                <div class="stat stat-ok">
                  <span class="stat-num" data-testid="health-online">
                    {h.online}
                  </span>
                  <span class="stat-label">online</span>
                </div>
                <div class="stat stat-off">
                  <span class="stat-num" data-testid="health-offline">
                    {h.offline}
                  </span>
                  <span class="stat-label">offline</span>
                </div>
              </div>
            </div>
          ) : (
            !health.error && <p class="muted">Loading…</p>
          )}
          {h && (
            <div class="bar bar-fleet" data-testid="health-bar" title={`${h.online} online, ${h.offline} offline`}>
              {h.known > 0 && <span class="seg seg-ok" style={{ width: `${(100 * h.online) / h.known}%` }} />}
              {h.known > 0 && <span class="seg seg-off" style={{ width: `${(100 * h.offline) / h.known}%` }} />}
            </div>
          )}
          {h && h.known === 0 && (
            <p class="muted">
              No agent has reported yet. See <Link href="/agents">Agents</Link> for how to start one.
            </p>
          )}
          {h && (
            <div class="grid-2 tight">
              <Breakdown title="By OS" rows={bd.byOS} testid="health-by-os" />
              <Breakdown title="By agent version" rows={bd.byVersion} testid="health-by-version" />
            </div>
          )}
        </div>
        <div class="card">
          <h2>Services</h2>
          {h && h.components.length > 0 ? (
            <ul class="comp-list" data-testid="health-components">
              {h.components.map((c) => (
                <li key={c.name}>
                  <span class={`dot ${c.ok === false ? 'dot-bad' : c.ok ? 'dot-on' : 'dot-off'}`} />
                  <span class="comp-name">{c.name}</span>
                  <span class="muted">{c.text}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">{h ? 'No service details reported.' : '…'}</p>
          )}
          {h && h.results24h.length > 0 && (
            <>
              <h3>Results, last 24 h</h3>
              <div class="chips" data-testid="health-results-24h">
                {h.results24h.every(([, n]) => n === 0) && <span class="muted">none</span>}
                {h.results24h.filter(([, n]) => n > 0).map(([k, n]) => (
                  <span class={`chip chip-${statusKind(k)}`} key={k}>
                    {k} <b>{n}</b>
                  </span>
                ))}
              </div>
            </>
          )}
        </div>
      </section>

      <section class="card">
        <div class="card-head">
          <h2>Recent executions</h2>
          <Link href="/executions">All executions →</Link>
        </div>
        <ErrorBox error={execs.error} />
        {execs.data && execs.data.items.length === 0 && (
          <p class="muted">
            Nothing has run yet. Open <Link href="/jobs">Jobs</Link>, pick a job and press <b>Run now</b>.
          </p>
        )}
        <ul class="exec-list" data-testid="recent-executions">
          {(execs.data?.items ?? []).map((e) => (
            <li key={e.exec_id} data-testid="recent-execution">
              <Link href={`/executions/${encodeURIComponent(e.exec_id)}`} class="exec-link">
                <b>{e.job_id}</b> <span class="muted">v{e.version}</span>
              </Link>
              <span class="muted small">
                {relativeTime(e.initiated_at)} · {e.initiated_by}
              </span>
              <Badge kind={statusKind(e.status)}>{e.status}</Badge>
              <span class="small mono">
                {execDone(e)}/{e.target_count}
              </span>
              <RatioBar c={execCounts(e)} compact />
            </li>
          ))}
        </ul>
      </section>

      <section class="card">
        <div class="card-head">
          <h2>Schedules needing attention</h2>
          <Link href="/schedules">All schedules →</Link>
        </div>
        <ErrorBox error={scheds.error} />
        {scheds.data && attention.length === 0 && (
          <p class="muted" data-testid="schedules-ok">
            {scheds.data.items.length === 0 ? 'No schedules yet.' : 'All schedules are enabled, active and without failures.'}
          </p>
        )}
        <ul class="plain-list" data-testid="schedules-attention">
          {attention.map(({ s, why }) => (
            <li key={s.id}>
              <Link href={`/schedules/${encodeURIComponent(s.id)}`}>{s.id}</Link>{' '}
              <span class="muted small">{whenText(s.when)}</span>{' '}
              {why.map((w) => (
                <Badge key={w} kind={w.includes('failing') ? 'fail' : 'neutral'}>
                  {w}
                </Badge>
              ))}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

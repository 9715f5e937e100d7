import { useState } from 'preact/hooks';
import { api, errorText, withQuery } from '../lib/api';
import { isStatus, useApi, useNow } from '../lib/hooks';
import { Link } from '../lib/router';
import type { Page, ScheduleItem, Tick } from '../lib/types';
import { absTime, relativeTime } from '../lib/format';
import { useCanOperate } from '../lib/me';
import { Badge, CopyBlock, Empty, ErrorBox, Loading, RatioBar, statusKind } from '../components';
import { JsonView } from '../json';
import { EXAMPLE_SCHEDULE, isDormant, scheduleEnabled, targetText, whenText } from './common';
import { DeleteButton, ManifestEditor, ManifestPage } from './manifest-editor';

function CoverageBar({ s }: { s: ScheduleItem }) {
  const raw = s.coverage;
  if (!raw) return <span class="muted">—</span>;
  const c = { ok: raw.ok ?? 0, failed: raw.failed ?? 0, running: raw.running ?? 0, pending: raw.pending ?? 0 };
  const total = c.ok + c.failed + c.running + c.pending;
  if (total === 0) return <span class="muted small">no PCs</span>;
  return (
    <div class="cov" data-testid="schedule-coverage">
      <RatioBar c={{ succeeded: c.ok, failed: c.failed, running: c.running, total }} compact />
      <span class="muted small">
        {c.ok}/{total} ok{c.failed ? `, ${c.failed} failed` : ''}
      </span>
    </div>
  );
}

function EnabledToggle({ s, onChanged }: { s: ScheduleItem; onChanged: () => void }) {
  const canOperate = useCanOperate();
  const [on, setOn] = useState(scheduleEnabled(s));
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const flip = async () => {
    const next = !on;
    setBusy(true);
    setErr('');
    setOn(next);
    try {
      await api(`/api/schedules/${encodeURIComponent(s.id)}/${next ? 'enable' : 'disable'}`, { method: 'POST' });
      onChanged();
    } catch (e) {
      setOn(!next);
      setErr(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="toggle-wrap">
      <label class="switch" title={on ? 'Enabled: click to disable' : 'Disabled: click to enable'}>
        <input
          type="checkbox"
          role="switch"
          checked={on}
          disabled={busy || !canOperate}
          onChange={flip}
          data-testid="schedule-toggle"
          data-id={s.id}
          aria-label={`Enable schedule ${s.id}`}
        />
        <span class="slider" />
      </label>
      {err && <span class="error-text small">{err}</span>}
    </span>
  );
}

export function Schedules() {
  useNow();
  const { data, error, loading, reload } = useApi<Page<ScheduleItem>>('/api/schedules?limit=500', { poll: 30000 });
  return (
    <div class="page">
      <div class="page-head">
        <h1>Schedules</h1>
        <Link href="/schedules/new" class="btn btn-primary" data-testid="schedule-new">
          New schedule
        </Link>
      </div>
      <p class="muted">A schedule says when a job runs and where: per PC until it succeeded, per target, or on the calendar.</p>
      <ErrorBox error={error} />
      {loading && !data && <Loading />}
      {data && data.items.length === 0 && (
        <Empty title="No schedules yet" testid="schedules-empty">
          <p>
            A schedule runs an existing job (see <Link href="/jobs">Jobs</Link>). For example, every weekday at 02:00 on
            every agent:
          </p>
          <CopyBlock text={EXAMPLE_SCHEDULE} testid="schedule-example" />
          <Link href="/schedules/new" class="btn btn-primary">
            Open this example in the editor
          </Link>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div class="table-wrap">
          <table class="table" data-testid="schedules-table">
            <thead>
              <tr>
                <th>On</th>
                <th>Schedule</th>
                <th class="hide-sm">Job</th>
                <th>When</th>
                <th class="hide-sm">Mode</th>
                <th>Next fire</th>
                <th class="w-bar">Coverage</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((s) => (
                <tr key={s.id} data-testid="schedule-row" data-id={s.id}>
                  <td>
                    <EnabledToggle key={`${s.id}-${scheduleEnabled(s)}`} s={s} onChanged={reload} />
                  </td>
                  <td>
                    <Link href={`/schedules/${encodeURIComponent(s.id)}`} class="strong">
                      {s.id}
                    </Link>
                    {isDormant(s) && (
                      <>
                        {' '}
                        <Badge kind="neutral">dormant</Badge>
                      </>
                    )}
                    {s.runs_on === 'agent' && (
                      <>
                        {' '}
                        <Badge kind="neutral">on agent</Badge>
                      </>
                    )}
                    <div class="muted small">{targetText(s.target)}</div>
                  </td>
                  <td class="hide-sm">
                    <Link href={`/jobs/${encodeURIComponent(s.job_id)}`}>{s.job_id}</Link>
                  </td>
                  <td class="small">{whenText(s.when)}</td>
                  <td class="hide-sm mono small">{s.mode ?? '—'}</td>
                  <td title={absTime(s.next_fire)} data-testid="schedule-next-fire">
                    {!scheduleEnabled(s) ? (
                      <span class="muted">disabled</span>
                    ) : s.next_fire ? (
                      relativeTime(s.next_fire)
                    ) : s.mode && s.mode !== 'every_tick' ? (
                      <span class="muted small" title="checked every minute">each minute</span>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td>
                    <CoverageBar s={s} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}

export function SchedulePage({ id }: { id: string | null }) {
  return (
    <ManifestPage
      id={id}
      kind="schedule"
      listHref="/schedules"
      example={EXAMPLE_SCHEDULE}
      editor={(initial) => <ScheduleEditor key={id ?? 'new'} id={id} initial={initial} />}
    />
  );
}

function ScheduleEditor({ id, initial }: { id: string | null; initial: string }) {
  const [rev, setRev] = useState(0);
  const canOperate = useCanOperate();
  return (
    <ManifestEditor
      id={id}
      initial={initial}
      listHref="/schedules"
      listLabel="Schedules"
      title={id ? `Schedule ${id}` : 'New schedule'}
      createLabel="Create schedule"
      saveUrl="/api/schedules"
      testidPrefix="schedule"
      rows={16}
      onSaved={() => setRev((r) => r + 1)}
      help={
        <details class="help">
          <summary>Schedule reference</summary>
          <ul class="small">
            <li>
              <code>when</code>: <code>per_pc: once</code> · <code>per_pc: {'{every: 24h}'}</code> · <code>per_target: once</code> ·{' '}
              <code>calendar: {'{at: "09:00", days: [mon-fri]}'}</code> · <code>calendar: {'{at: "2027-01-05 09:00"}'}</code>
            </li>
            <li>
              <code>target</code>: <code>{'{all: true}'}</code>, <code>{'{groups: [a, b]}'}</code> or <code>{'{pcs: [pc1]}'}</code>
            </li>
            <li>
              <code>jitter</code>, <code>tz</code> (local | utc | IANA), <code>active: {'{from, until}'}</code>, <code>starting_deadline</code>,{' '}
              <code>runs_on</code> (backend | agent), <code>enabled</code>
            </li>
          </ul>
        </details>
      }
      side={id && <Preview id={id} rev={rev} />}
      after={
        <>
          {id && <Coverage id={id} rev={rev} />}
          {id && <Ticks id={id} />}
          {id && canOperate && (
            <DeleteButton
              url={`/api/schedules/${encodeURIComponent(id)}`}
              confirmText={`Delete schedule ${id}?`}
              label="Delete schedule"
              back="/schedules"
              testid="schedule-delete"
              inlineError
            />
          )}
        </>
      }
    />
  );
}

function Preview({ id, rev }: { id: string; rev: number }) {
  const { data, error, reload } = useApi<{ next?: string[] | null; would_fire?: unknown }>(
    `/api/schedules/${encodeURIComponent(id)}/preview?count=5&r=${rev}`,
  );
  return (
    <div class="card" data-testid="schedule-preview">
      <div class="card-head">
        <h2>Preview</h2>
        <button class="btn btn-small" onClick={reload}>
          Refresh
        </button>
      </div>
      <ErrorBox error={error} />
      {data && (
        <>
          <h3>Next fire times</h3>
          {data.next && data.next.length > 0 ? (
            <ol class="plain-list" data-testid="schedule-next">
              {data.next.map((t) => (
                <li key={t}>
                  {absTime(t)} <span class="muted small">({relativeTime(t)})</span>
                </li>
              ))}
            </ol>
          ) : (
            <p class="muted">No calendar fire ahead (per-PC and per-target schedules are polled every minute).</p>
          )}
          <h3>Who would fire now</h3>
          <WouldFireView w={data.would_fire} />
        </>
      )}
    </div>
  );
}

interface WouldFire {
  action?: string;
  reason?: string;
  pcs?: string[] | null;
  expected?: number;
  armed?: number;
  suppressed?: number;
  deadline_at?: string;
}

function WouldFireView({ w }: { w: unknown }) {
  if (!w || typeof w !== 'object') return <JsonView value={w} />;
  const f = w as WouldFire;
  if (typeof f.action !== 'string') return <JsonView value={w} />;
  const pcs = f.pcs ?? [];
  const fires = f.action !== 'skipped' && f.action !== 'skip';
  return (
    <div data-testid="schedule-would-fire">
      <p>
        <Badge kind={fires ? 'ok' : 'neutral'}>{f.action.replace('_', ' ')}</Badge>{' '}
        {f.reason && <span class="muted">{f.reason}</span>}
      </p>
      <p class="small muted">
        expected {f.expected ?? 0} · armed {f.armed ?? 0} · suppressed {f.suppressed ?? 0}
        {f.deadline_at ? ` · deadline ${absTime(f.deadline_at)}` : ''}
      </p>
      {pcs.length > 0 && (
        <div class="chips wrap">
          {pcs.slice(0, 50).map((pc) => (
            <span class="chip" key={pc}>
              {pc}
            </span>
          ))}
          {pcs.length > 50 && <span class="muted small">and {pcs.length - 50} more</span>}
        </div>
      )}
    </div>
  );
}

function Coverage({ id, rev }: { id: string; rev: number }) {
  const { data, error } = useApi<unknown>(`/api/schedules/${encodeURIComponent(id)}/coverage?r=${rev}`);
  const items: { pc_id?: string; state?: string; status?: string; exit_code?: number; finished_at?: string }[] = Array.isArray(data)
    ? data
    : data && typeof data === 'object' && Array.isArray((data as { items?: unknown }).items)
      ? ((data as { items: [] }).items)
      : [];
  if (isStatus(error, 404)) return null;
  return (
    <section class="card" data-testid="schedule-coverage-detail">
      <h2>Coverage</h2>
      <ErrorBox error={error} />
      {data !== undefined && items.length === 0 && <p class="muted">No PC in this schedule's target yet.</p>}
      {items.length > 1000 && <p class="muted small">Showing the first 1000 of {items.length} PCs.</p>}
      {items.length > 0 && (
        <div class="chips wrap">
          {items.slice(0, 1000).map((c, i) => {
            const st = String(c.state ?? c.status ?? '');
            const tip = [st, c.exit_code !== undefined ? `exit ${c.exit_code}` : '', c.finished_at ? relativeTime(c.finished_at) : '']
              .filter(Boolean)
              .join(' · ');
            return (
              <Link
                key={String(c.pc_id ?? i)}
                href={`/agents/${encodeURIComponent(String(c.pc_id ?? ''))}`}
                class={`chip chip-${statusKind(st)}`}
                title={tip}
                data-testid="coverage-pc"
                data-state={st}
              >
                {String(c.pc_id ?? '?')}
              </Link>
            );
          })}
        </div>
      )}
    </section>
  );
}

function Ticks({ id }: { id: string }) {
  useNow();
  const [offset, setOffset] = useState(0);
  const { data, error } = useApi<Page<Tick>>(withQuery(`/api/schedules/${encodeURIComponent(id)}/ticks`, { limit: 50, offset: offset || undefined }), {
    poll: 30000,
  });
  return (
    <section class="card">
      <h2>Decision log</h2>
      <p class="muted small">Every scheduler tick records what it decided and why — the answer to "why didn't it fire?".</p>
      <ErrorBox error={error} />
      {data && data.items.length === 0 && <p class="muted">No ticks yet.</p>}
      {data && data.items.length > 0 && (
        <div class="table-wrap">
          <table class="table" data-testid="ticks-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Decision</th>
                <th>Reason</th>
                <th class="hide-sm" title="expected / armed / suppressed / fired">
                  Exp · Arm · Sup · Fired
                </th>
                <th>Exec</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((t, i) => (
                <tr key={`${t.tick_at}-${i}`} data-testid="tick-row">
                  <td title={absTime(t.tick_at)}>{relativeTime(t.tick_at)}</td>
                  <td>
                    <Badge kind={statusKind(t.action)}>{t.action.replace('_', ' ')}</Badge>
                  </td>
                  <td>{t.reason ?? ''}</td>
                  <td class="hide-sm mono small">
                    {t.expected} · {t.armed} · {t.suppressed} · {t.fired}
                  </td>
                  <td>{t.exec_id && <Link href={`/executions/${encodeURIComponent(t.exec_id)}`}>view</Link>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && data.total > 50 && (
        <div class="pager">
          <button class="btn btn-small" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - 50))}>
            ← Newer
          </button>
          <button class="btn btn-small" disabled={offset + 50 >= data.total} onClick={() => setOffset(offset + 50)}>
            Older →
          </button>
        </div>
      )}
    </section>
  );
}

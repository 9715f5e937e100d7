import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, errorText, streamURL, withQuery } from '../lib/api';
import { isStatus, useApi, useNow } from '../lib/hooks';
import { Link, navigate, setQuery, useQuery } from '../lib/router';
import type { Execution, ExecutionDetail as Detail, Page, Result } from '../lib/types';
import { absTime, elapsed, relativeTime } from '../lib/format';
import { useCanOperate } from '../lib/me';
import { Badge, Empty, ErrorBox, Loading, Pager, RatioBar, statusKind } from '../components';
import { execCounts, execDone, isFinal, targetText } from './common';

const LIMIT = 50;

export function Executions() {
  useNow();
  const q = useQuery();
  const offset = Math.max(0, parseInt(q.get('offset') ?? '0', 10) || 0);
  const job = q.get('job') ?? '';
  const status = q.get('status') ?? '';
  const initiator = q.get('initiator') ?? '';
  const path = withQuery('/api/executions', { job, status, initiator, limit: LIMIT, offset });
  const { data, error, loading } = useApi<Page<Execution>>(path, { poll: 5000 });
  return (
    <div class="page">
      <div class="page-head">
        <h1>Executions</h1>
        {data && <span class="muted">{data.total.toLocaleString()} total</span>}
      </div>
      <div class="filters">
        <input
          placeholder="Job id"
          value={job}
          onChange={(e) => setQuery({ job: (e.currentTarget as HTMLInputElement).value.trim(), offset: null })}
          data-testid="executions-job"
          aria-label="Job"
        />
        <input
          placeholder="Started by (e.g. scheduler:nightly)"
          value={initiator}
          onChange={(e) => setQuery({ initiator: (e.currentTarget as HTMLInputElement).value.trim(), offset: null })}
          data-testid="executions-initiator"
          aria-label="Started by"
        />
        <select
          value={status}
          onChange={(e) => setQuery({ status: (e.currentTarget as HTMLSelectElement).value, offset: null })}
          data-testid="executions-status"
          aria-label="Status"
        >
          <option value="">Any status</option>
          <option value="pending">Pending</option>
          <option value="running">Running</option>
          <option value="completed">Completed</option>
          <option value="expired">Expired</option>
        </select>
      </div>
      <ErrorBox error={error} />
      {loading && !data && <Loading />}
      {data && data.total === 0 && (
        <Empty title={job || status || initiator ? 'No executions match' : 'Nothing has run yet'} testid="executions-empty">
          <p>
            Open <Link href="/jobs">Jobs</Link>, pick a job and press <b>Run now</b>, or from a shell:{' '}
            <code>kanade exec JOB --all --wait</code>.
          </p>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div class="table-wrap">
          <table class="table" data-testid="executions-table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Status</th>
                <th>Progress</th>
                <th class="w-bar">Success</th>
                <th class="hide-sm">By</th>
                <th>Started</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((e) => (
                <tr
                  key={e.exec_id}
                  data-testid="execution-row"
                  data-exec={e.exec_id}
                  class="clickable"
                  onClick={(ev) => {
                    if ((ev.target as HTMLElement).closest('a')) return;
                    navigate(`/executions/${encodeURIComponent(e.exec_id)}`);
                  }}
                >
                  <td>
                    <Link href={`/executions/${encodeURIComponent(e.exec_id)}`} class="strong">
                      {e.job_id}
                    </Link>{' '}
                    <span class="muted small">v{e.version}</span>
                  </td>
                  <td>
                    <Badge kind={statusKind(e.status)}>{e.status}</Badge>
                  </td>
                  <td class="mono">
                    {execDone(e)}/{e.target_count}
                  </td>
                  <td>
                    <RatioBar c={execCounts(e)} />
                  </td>
                  <td class="hide-sm small">
                    <Initiator by={e.initiated_by} />
                  </td>
                  <td title={absTime(e.initiated_at)}>{relativeTime(e.initiated_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && <Pager total={data.total} limit={LIMIT} offset={offset} onOffset={(o) => setQuery({ offset: o || null })} />}
    </div>
  );
}

/** "scheduler:<id>" links to the schedule; an operator name is plain text. */
export function Initiator({ by }: { by: string }) {
  if (by.startsWith('scheduler:')) {
    const id = by.slice('scheduler:'.length);
    return (
      <span>
        schedule <Link href={`/schedules/${encodeURIComponent(id)}`}>{id}</Link>
      </span>
    );
  }
  return <span>{by}</span>;
}

/** Merge one result into the list: same result_id replaces; a real row replaces the PC's pending row. */
export function mergeResult(list: Result[], r: Result): Result[] {
  return mergeResults(list, [r]);
}

/**
 * Merge a batch of streamed results in O(list + batch): a row with the same
 * result_id is replaced; a PC's pending (id-less) row is replaced by its
 * first real result; anything else is appended.
 */
export function mergeResults(list: Result[], batch: Result[]): Result[] {
  if (batch.length === 0) return list;
  const out = list.slice();
  const byID = new Map<string, number>();
  const pendingByPC = new Map<string, number>();
  out.forEach((x, i) => {
    if (x.result_id) byID.set(x.result_id, i);
    else if (!pendingByPC.has(x.pc_id)) pendingByPC.set(x.pc_id, i);
  });
  for (const r of batch) {
    let i = r.result_id ? byID.get(r.result_id) : undefined;
    if (i === undefined) i = pendingByPC.get(r.pc_id);
    if (i === undefined) {
      i = out.length;
      out.push(r);
    } else out[i] = r;
    if (r.result_id) {
      byID.set(r.result_id, i);
      if (pendingByPC.get(r.pc_id) === i) pendingByPC.delete(r.pc_id);
    } else pendingByPC.set(r.pc_id, i);
  }
  return out;
}

const ORDER: Record<string, number> = { failure: 0, lost: 1, running: 2, pending: 3, skipped: 4, success: 5 };

type LiveState = 'connecting' | 'live' | 'polling' | 'done';

function useExecution(id: string) {
  const [exec, setExec] = useState<Execution | null>(null);
  const [results, setResults] = useState<Result[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [live, setLive] = useState<LiveState>('connecting');
  const finalRef = useRef(false);
  // Streamed results are applied in batches (a 10 000-PC exec sends a lot).
  const queue = useRef<Result[]>([]);
  const timer = useRef(0);
  const flush = () => {
    timer.current = 0;
    const batch = queue.current;
    queue.current = [];
    if (batch.length) setResults((list) => mergeResults(list, batch));
  };

  const load = async (signal?: AbortSignal) => {
    const d = await api<Detail>(`/api/executions/${encodeURIComponent(id)}`, { signal });
    setExec(d.execution);
    queue.current = [];
    setResults(d.results ?? []);
    finalRef.current = isFinal(d.execution.status);
    return d;
  };

  useEffect(() => {
    const ctl = new AbortController();
    let es: EventSource | null = null;
    let poll = 0;
    let closed = false;
    const startPolling = () => {
      if (closed || poll) return;
      setLive(finalRef.current ? 'done' : 'polling');
      poll = window.setInterval(() => {
        if (finalRef.current) {
          window.clearInterval(poll);
          setLive('done');
          return;
        }
        load(ctl.signal).catch(() => undefined);
      }, 2000);
    };
    load(ctl.signal)
      .then((d) => {
        if (closed) return;
        if (isFinal(d.execution.status)) {
          setLive('done');
          return;
        }
        if (typeof EventSource === 'undefined') return startPolling();
        es = new EventSource(streamURL(`/api/executions/${encodeURIComponent(id)}/stream`));
        es.addEventListener('open', () => setLive('live'));
        es.addEventListener('execution', (ev) => {
          try {
            const e = JSON.parse((ev as MessageEvent).data) as Execution;
            setExec(e);
            finalRef.current = isFinal(e.status);
          } catch {
            /* ignore a bad frame */
          }
        });
        es.addEventListener('result', (ev) => {
          try {
            queue.current.push(JSON.parse((ev as MessageEvent).data) as Result);
            if (!timer.current) timer.current = window.setTimeout(flush, 200);
          } catch {
            /* ignore */
          }
        });
        es.addEventListener('done', () => {
          es?.close();
          setLive('done');
          // One final read so counters and rows match the store exactly.
          load(ctl.signal).catch(() => undefined);
        });
        es.addEventListener('error', () => {
          // Stream refused or dropped: fall back to polling the detail.
          es?.close();
          es = null;
          if (!closed) {
            load(ctl.signal).catch(() => undefined);
            startPolling();
          }
        });
      })
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setError(e);
      });
    return () => {
      closed = true;
      ctl.abort();
      es?.close();
      if (poll) window.clearInterval(poll);
      if (timer.current) window.clearTimeout(timer.current);
      timer.current = 0;
      queue.current = [];
    };
  }, [id]);

  return { exec, results, error, live, reload: () => load().catch(setError) };
}

export function ExecutionDetail({ id }: { id: string }) {
  useNow(5000);
  const { exec, results, error, live, reload } = useExecution(id);
  const [filter, setFilter] = useState('');
  const [killErr, setKillErr] = useState('');
  const [killing, setKilling] = useState(false);
  const [shown, setShown] = useState(200);
  const canOperate = useCanOperate();

  const sorted = useMemo(
    // Stable order (by PC) so rows fill in place as results arrive; the
    // status chips above filter (e.g. only failures).
    () => [...results].sort((a, b) => a.pc_id.localeCompare(b.pc_id) || (ORDER[a.status] ?? 9) - (ORDER[b.status] ?? 9)),
    [results],
  );
  const byStatus = useMemo(() => {
    const m: Record<string, number> = {};
    for (const r of results) m[r.status] = (m[r.status] ?? 0) + 1;
    return m;
  }, [results]);

  if (isStatus(error, 404)) {
    return (
      <div class="page">
        <h1>Execution</h1>
        <Empty title="No such execution">
          <p>
            <code>{id}</code> is unknown. <Link href="/executions">All executions</Link>.
          </p>
        </Empty>
      </div>
    );
  }
  if (!exec) {
    return (
      <div class="page">
        <h1>Execution</h1>
        <ErrorBox error={error} />
        {!error && <Loading />}
      </div>
    );
  }
  const done = execDone(exec);
  const rows = filter ? sorted.filter((r) => r.status === filter) : sorted;
  const final = isFinal(exec.status);

  const kill = async () => {
    if (!confirm(`Kill every running process of this execution of ${exec.job_id}?`)) return;
    setKilling(true);
    setKillErr('');
    try {
      await api(`/api/executions/${encodeURIComponent(id)}/kill`, { method: 'POST' });
      reload();
    } catch (e) {
      setKillErr(errorText(e));
    } finally {
      setKilling(false);
    }
  };

  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/executions">Executions</Link> /
      </div>
      <div class="page-head">
        <h1>
          <Link href={`/jobs/${encodeURIComponent(exec.job_id)}`}>{exec.job_id}</Link> <span class="muted">v{exec.version}</span>
        </h1>
        <Badge kind={statusKind(exec.status)} testid="exec-status">
          {exec.status}
        </Badge>
        <span class={`live live-${live}`} data-testid="exec-live" title="Live updates">
          {live === 'live' ? '● live' : live === 'polling' ? '↻ refreshing' : live === 'connecting' ? '…' : ''}
        </span>
      </div>
      <div class="card exec-summary">
        <div class="progress-big">
          <span class="progress-num" data-testid="exec-progress">
            {done}/{exec.target_count}
          </span>
          <span class="muted">PCs finished</span>
        </div>
        <div class="exec-bar">
          <RatioBar c={execCounts(exec)} testid="exec-ratio" />
          <div class="chips">
            <span class="chip chip-ok" data-testid="exec-succeeded">
              succeeded <b>{exec.succeeded}</b>
            </span>
            <span class="chip chip-fail" data-testid="exec-failed">
              failed <b>{exec.failed}</b>
            </span>
            {exec.skipped > 0 && (
              <span class="chip chip-neutral">
                skipped <b>{exec.skipped}</b>
              </span>
            )}
            {exec.lost > 0 && (
              <span class="chip chip-fail">
                lost <b>{exec.lost}</b>
              </span>
            )}
            {exec.running > 0 && (
              <span class="chip chip-run">
                running <b>{exec.running}</b>
              </span>
            )}
          </div>
        </div>
        <div class="exec-actions">
          {canOperate && (
          <button class="btn btn-danger" disabled={final || killing} onClick={kill} data-testid="exec-kill">
            {killing ? 'Killing…' : 'Kill'}
          </button>
          )}
          {killErr && <span class="error-text">{killErr}</span>}
        </div>
      </div>
      <dl class="kv kv-inline card">
        <dt>Execution</dt>
        <dd class="mono small">{exec.exec_id}</dd>
        <dt>Target</dt>
        <dd>{targetText(exec.target)}</dd>
        <dt>Started</dt>
        <dd>
          {absTime(exec.initiated_at)} ({relativeTime(exec.initiated_at)}) by <Initiator by={exec.initiated_by} />
        </dd>
        {exec.deadline_at && (
          <>
            <dt>Deadline</dt>
            <dd>{absTime(exec.deadline_at)}</dd>
          </>
        )}
        {exec.finished_at && (
          <>
            <dt>Finished</dt>
            <dd>
              {absTime(exec.finished_at)} (took {elapsed(exec.initiated_at, exec.finished_at)})
            </dd>
          </>
        )}
        {exec.subjects && exec.subjects.length > 0 && (
          <>
            <dt>Subjects</dt>
            <dd class="mono small">{exec.subjects.join(', ')}</dd>
          </>
        )}
      </dl>

      <section class="card">
        <div class="card-head">
          <h2>Per PC</h2>
          <div class="chips">
            <button class={`chip ${filter === '' ? 'chip-on' : ''}`} onClick={() => setFilter('')}>
              all <b>{results.length}</b>
            </button>
            {Object.entries(byStatus).map(([s, n]) => (
              <button key={s} class={`chip chip-${statusKind(s)} ${filter === s ? 'chip-on' : ''}`} onClick={() => setFilter(filter === s ? '' : s)} data-testid={`filter-${s}`}>
                {s} <b>{n}</b>
              </button>
            ))}
          </div>
        </div>
        {results.length === 0 && (
          <p class="muted" data-testid="exec-no-results">
            {exec.target_count === 0
              ? 'The target matched no PC when this ran (no online agent in it?).'
              : 'Waiting for the first PC to answer…'}
          </p>
        )}
        {rows.length > 0 && (
          <div class="table-wrap">
            <table class="table" data-testid="results-table">
              <thead>
                <tr>
                  <th>PC</th>
                  <th>Status</th>
                  <th>Exit</th>
                  <th class="hide-sm">Took</th>
                  <th class="hide-sm">Finished</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {rows.slice(0, shown).map((r) => (
                  <ResultRow key={r.result_id || `pending-${r.pc_id}`} r={r} />
                ))}
              </tbody>
            </table>
          </div>
        )}
        {rows.length > shown && (
          <button class="btn" onClick={() => setShown(shown + 500)}>
            Show more ({rows.length - shown} left)
          </button>
        )}
      </section>
    </div>
  );
}

function ResultRow({ r }: { r: Result }) {
  const [open, setOpen] = useState(false);
  const [full, setFull] = useState<Result | null>(null);
  const [err, setErr] = useState('');
  const hasOutput = !!r.result_id && r.status !== 'pending';
  const toggle = () => setOpen(!open);
  // A newer version of this row (e.g. running → success) invalidates the fetched output.
  useEffect(() => setFull(null), [r.status, r.finished_at]);
  useEffect(() => {
    if (open && !full && r.result_id && r.status !== 'pending') {
      api<Result>(`/api/results/${encodeURIComponent(r.result_id)}`).then(setFull, (e) => setErr(errorText(e)));
    }
  }, [open, full]);
  const o = full ?? r;
  const flags = [r.timed_out && 'timed out', r.killed && 'killed', r.skip_reason && `skipped: ${r.skip_reason}`].filter(Boolean);
  return (
    <>
      <tr data-testid="result-row" data-pc={r.pc_id} data-status={r.status}>
        <td>
          <Link href={`/agents/${encodeURIComponent(r.pc_id)}`}>{r.pc_id}</Link>
        </td>
        <td>
          <Badge kind={statusKind(r.status)}>{r.status}</Badge>
          {flags.length > 0 && <span class="muted small"> {flags.join(', ')}</span>}
        </td>
        <td class="mono" data-testid="result-exit">
          {r.exit_code ?? '—'}
        </td>
        <td class="hide-sm">{elapsed(r.started_at, r.finished_at)}</td>
        <td class="hide-sm" title={absTime(r.finished_at)}>
          {r.finished_at ? relativeTime(r.finished_at) : ''}
        </td>
        <td class="actions">
          {hasOutput && (
            <button class="btn btn-small" onClick={toggle} aria-expanded={open} data-testid="result-toggle">
              {open ? 'Hide output' : 'Output'}
            </button>
          )}
        </td>
      </tr>
      {open && (
        <tr class="output-row">
          <td colSpan={6}>
            {err && <div class="alert alert-error">{err}</div>}
            <div class="output" data-testid="result-output">
              <div class="output-label">
                stdout{o.stdout_truncated && <span class="muted"> (truncated: head and tail kept)</span>}
              </div>
              <pre data-testid="result-stdout">{o.stdout || <span class="muted">(empty)</span>}</pre>
              <div class="output-label">
                stderr{o.stderr_truncated && <span class="muted"> (truncated)</span>}
              </div>
              <pre class="stderr" data-testid="result-stderr">
                {o.stderr || <span class="muted">(empty)</span>}
              </pre>
            </div>
          </td>
        </tr>
      )}
    </>
  );
}

import { useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText } from '../lib/api';
import { useApi } from '../lib/hooks';
import { Link, navigate } from '../lib/router';
import type { ExecAnswer, Job, Page } from '../lib/types';
import { parseDuration, splitList } from '../lib/format';
import { useCanOperate } from '../lib/me';
import { CopyBlock, Empty, ErrorBox, Loading } from '../components';
import { EXAMPLE_JOB, groupNames } from './common';
import { DeleteButton, ManifestEditor, ManifestPage } from './manifest-editor';

export function Jobs() {
  const { data, error, loading } = useApi<Page<Job>>('/api/jobs?limit=500');
  return (
    <div class="page">
      <div class="page-head">
        <h1>Jobs</h1>
        <Link href="/jobs/new" class="btn btn-primary" data-testid="job-new">
          New job
        </Link>
      </div>
      <p class="muted">A job is what to run: a script, its shell and a timeout. Run it now, or attach it to a schedule.</p>
      <ErrorBox error={error} />
      {loading && !data && <Loading />}
      {data && data.items.length === 0 && (
        <Empty title="No jobs yet" testid="jobs-empty">
          <p>Create one in the editor, or save this as <code>hello.yaml</code> and apply it with the CLI:</p>
          <CopyBlock text={EXAMPLE_JOB} testid="job-example" />
          <CopyBlock text="kanade job apply -f hello.yaml" />
          <Link href="/jobs/new" class="btn btn-primary">
            Open this example in the editor
          </Link>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div class="table-wrap">
          <table class="table" data-testid="jobs-table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Version</th>
                <th class="hide-sm">Description</th>
                <th class="hide-sm">Shell</th>
                <th class="hide-sm">Timeout</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {data.items.map((j) => (
                <tr key={j.id} data-testid="job-row" data-job={j.id}>
                  <td>
                    <Link href={`/jobs/${encodeURIComponent(j.id)}`} class="strong">
                      {j.id}
                    </Link>
                  </td>
                  <td class="mono">{j.version}</td>
                  <td class="hide-sm">{j.description}</td>
                  <td class="hide-sm mono">{j.execute?.shell}</td>
                  <td class="hide-sm mono">{j.execute?.timeout}</td>
                  <td class="actions">
                    <Link href={`/jobs/${encodeURIComponent(j.id)}#run`} class="btn btn-small" data-testid="job-run-link">
                      Run…
                    </Link>
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

export { manifestId, useEditorState, useManifest, type EditorState } from './manifest-editor';

export function JobPage({ id }: { id: string | null }) {
  return (
    <ManifestPage
      id={id}
      kind="job"
      listHref="/jobs"
      example={EXAMPLE_JOB}
      editor={(initial) => <JobEditor key={id ?? 'new'} id={id} initial={initial} />}
    />
  );
}

function JobEditor({ id, initial }: { id: string | null; initial: string }) {
  const canOperate = useCanOperate();
  return (
    <ManifestEditor
      id={id}
      initial={initial}
      listHref="/jobs"
      listLabel="Jobs"
      title={id ? `Job ${id}` : 'New job'}
      createLabel="Create job"
      saveUrl="/api/jobs"
      validateUrl="/api/jobs/validate"
      testidPrefix="job"
      help={
        <details class="help">
          <summary>Job manifest reference</summary>
          <ul class="small">
            <li>
              <code>id</code>, <code>version</code> (free text, recorded on every result), <code>description</code>
            </li>
            <li>
              <code>execute.shell</code>: sh | bash | pwsh | powershell | cmd
            </li>
            <li>
              <code>execute.script</code> (required), <code>execute.timeout</code> (required, e.g. 10m),{' '}
              <code>execute.cwd</code>, <code>execute.env</code>
            </li>
            <li>Unknown keys are rejected, with the path of each.</li>
          </ul>
        </details>
      }
      side={
        <>
          {!canOperate ? (
            <p class="muted" data-testid="viewer-note">
              Your role (viewer) can read jobs but not change or run them.
            </p>
          ) : id ? (
            <RunPanel jobId={id} />
          ) : (
            <p class="muted">Save the job to run it.</p>
          )}
          {id && canOperate && (
            <DeleteButton
              url={`/api/jobs/${encodeURIComponent(id)}`}
              confirmText={`Delete job ${id}?`}
              label="Delete job"
              back="/jobs"
              testid="job-delete"
              errorTestid="job-delete-error"
            />
          )}
        </>
      }
    />
  );
}

type Mode = 'all' | 'groups' | 'pcs';

export function buildPlan(
  mode: Mode,
  groups: string,
  pcs: string,
  jitter: string,
  deadlineIn: string,
  now = Date.now(),
): { plan?: Record<string, unknown>; problems: Record<string, string> } {
  const problems: Record<string, string> = {};
  const target: Record<string, unknown> = {};
  if (mode === 'all') target.all = true;
  else if (mode === 'groups') {
    const g = splitList(groups);
    if (!g.length) problems.groups = 'Name at least one group.';
    target.groups = g;
  } else {
    const p = splitList(pcs);
    if (!p.length) problems.pcs = 'Name at least one PC.';
    target.pcs = p;
  }
  const plan: Record<string, unknown> = { target };
  if (jitter.trim()) {
    if (parseDuration(jitter) === null) problems.jitter = 'Use a duration like 30s, 5m or 1h.';
    else plan.jitter = jitter.trim();
  }
  if (deadlineIn.trim()) {
    const s = parseDuration(deadlineIn);
    if (s === null || s <= 0) problems.deadline = 'Use a duration like 15m or 2h.';
    else plan.deadline_at = new Date(now + s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
  return Object.keys(problems).length ? { problems } : { plan, problems };
}

function RunPanel({ jobId }: { jobId: string }) {
  const [mode, setMode] = useState<Mode>('all');
  const [groups, setGroups] = useState('');
  const [pcs, setPcs] = useState('');
  const [jitter, setJitter] = useState('');
  const [deadline, setDeadline] = useState('');
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [err, setErr] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const known = useApi<unknown>('/api/groups');
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (window.location.hash === '#run') ref.current?.scrollIntoView({ block: 'start' });
  }, []);

  const run = async (e: Event) => {
    e.preventDefault();
    setErr(null);
    const { plan, problems: p } = buildPlan(mode, groups, pcs, jitter, deadline);
    setProblems(p);
    if (!plan) return;
    setBusy(true);
    try {
      const ans = await api<ExecAnswer>(`/api/exec/${encodeURIComponent(jobId)}`, { method: 'POST', json: plan });
      navigate(`/executions/${encodeURIComponent(ans.exec_id)}`);
    } catch (e2) {
      setErr(e2);
    } finally {
      setBusy(false);
    }
  };
  const fieldErrs = err instanceof ApiError ? err.fields : [];

  return (
    <div class="card" id="run" ref={ref}>
      <form onSubmit={run} data-testid="run-form">
        <h2>Run now</h2>
        <fieldset class="seg-control" data-testid="run-target">
          <legend>Target</legend>
          {(['all', 'groups', 'pcs'] as Mode[]).map((m) => (
            <label key={m} class={mode === m ? 'on' : ''}>
              <input
                type="radio"
                name="target"
                value={m}
                checked={mode === m}
                onChange={() => setMode(m)}
                data-testid={`run-target-${m}`}
              />
              {m === 'all' ? 'All agents' : m === 'groups' ? 'Groups' : 'PCs'}
            </label>
          ))}
        </fieldset>
        {mode === 'groups' && (
          <label class="field">
            <span>Groups (comma separated)</span>
            <input
              list="run-groups-list"
              value={groups}
              onInput={(e) => setGroups((e.currentTarget as HTMLInputElement).value)}
              data-testid="run-groups"
              placeholder="canary, office"
            />
            <datalist id="run-groups-list">
              {groupNames(known.data).map((g) => (
                <option key={g} value={g} />
              ))}
            </datalist>
            {problems.groups && <span class="error-text">{problems.groups}</span>}
          </label>
        )}
        {mode === 'pcs' && (
          <label class="field">
            <span>PCs (comma separated pc_ids)</span>
            <input value={pcs} onInput={(e) => setPcs((e.currentTarget as HTMLInputElement).value)} data-testid="run-pcs" placeholder="pc-001, pc-002" />
            {problems.pcs && <span class="error-text">{problems.pcs}</span>}
          </label>
        )}
        <div class="row">
          <label class="field">
            <span>Jitter</span>
            <input value={jitter} onInput={(e) => setJitter((e.currentTarget as HTMLInputElement).value)} placeholder="e.g. 30s" data-testid="run-jitter" size={8} />
            {problems.jitter && <span class="error-text">{problems.jitter}</span>}
          </label>
          <label class="field">
            <span>Deadline in</span>
            <input value={deadline} onInput={(e) => setDeadline((e.currentTarget as HTMLInputElement).value)} placeholder="e.g. 15m" data-testid="run-deadline" size={8} />
            {problems.deadline && <span class="error-text">{problems.deadline}</span>}
          </label>
        </div>
        <p class="muted small">
          Jitter spreads the start over that window. PCs that get the command after the deadline skip it.
        </p>
        <button class="btn btn-primary" type="submit" disabled={busy} data-testid="run-button">
          {busy ? 'Starting…' : `Run ${jobId}`}
        </button>
        {err !== null && (
          <div class="alert alert-error" role="alert" data-testid="run-error">
            {errorText(err)}
            {fieldErrs.length > 0 && (
              <ul>
                {fieldErrs.map((f, i) => (
                  <li key={i} data-testid="field-error" data-path={f.path}>
                    <code>{f.path}</code> {f.message}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
      </form>
    </div>
  );
}

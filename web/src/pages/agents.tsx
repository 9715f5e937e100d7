import { useEffect, useState } from 'preact/hooks';
import { api, errorText, withQuery } from '../lib/api';
import { isStatus, useApi, useDebounced, useNow } from '../lib/hooks';
import { Link, navigate, setQuery, useQuery } from '../lib/router';
import type { Agent, Page, Result } from '../lib/types';
import { absTime, elapsed, formatBytes, relativeTime } from '../lib/format';
import { Badge, CopyBlock, Empty, ErrorBox, Loading, Pager, StatusDot, statusKind } from '../components';
import { JsonView } from '../json';
import { useCanOperate } from '../lib/me';
import { groupNames } from './common';

const LIMIT = 50;

export function Agents() {
  useNow();
  const q = useQuery();
  const [text, setText] = useState(q.get('q') ?? '');
  const debounced = useDebounced(text, 300);
  const group = q.get('group') ?? '';
  const status = q.get('status') ?? '';
  const os = q.get('os') ?? '';
  const offset = Math.max(0, parseInt(q.get('offset') ?? '0', 10) || 0);
  const limit = Math.min(500, Math.max(1, parseInt(q.get('limit') ?? String(LIMIT), 10) || LIMIT));
  const sort = q.get('sort') ?? '';

  useEffect(() => {
    if (debounced !== (q.get('q') ?? '')) setQuery({ q: debounced, offset: null });
  }, [debounced]);

  const path = withQuery('/api/agents', { q: q.get('q') ?? '', group, status, os, sort, limit, offset });
  const { data, error, loading } = useApi<Page<Agent>>(path, { poll: 15000 });
  const groups = useApi<unknown>('/api/groups');
  const filtered = !!(q.get('q') || group || status || os);

  return (
    <div class="page">
      <div class="page-head">
        <h1>Agents</h1>
        {data && (
          <span class="muted" data-testid="agents-total">
            {data.total.toLocaleString()} {filtered ? 'matching' : 'known'}
          </span>
        )}
      </div>
      <div class="filters" role="search">
        <input
          type="search"
          placeholder="Search pc_id or hostname (regex ok)"
          value={text}
          onInput={(e) => setText((e.currentTarget as HTMLInputElement).value)}
          data-testid="agents-search"
          aria-label="Search agents"
        />
        <select
          value={status}
          onChange={(e) => setQuery({ status: (e.currentTarget as HTMLSelectElement).value, offset: null })}
          data-testid="agents-status"
          aria-label="Status"
        >
          <option value="">Any status</option>
          <option value="online">Online</option>
          <option value="offline">Offline</option>
        </select>
        <input
          list="group-names"
          placeholder="Group"
          value={group}
          onChange={(e) => setQuery({ group: (e.currentTarget as HTMLInputElement).value.trim(), offset: null })}
          data-testid="agents-group"
          aria-label="Group"
        />
        <datalist id="group-names">
          {groupNames(groups.data).map((g) => (
            <option key={g} value={g} />
          ))}
        </datalist>
        <select
          value={os}
          onChange={(e) => setQuery({ os: (e.currentTarget as HTMLSelectElement).value, offset: null })}
          data-testid="agents-os"
          aria-label="Operating system"
        >
          <option value="">Any OS</option>
          <option value="linux">Linux</option>
          <option value="windows">Windows</option>
          <option value="darwin">macOS</option>
          {os && !['linux', 'windows', 'darwin'].includes(os) && <option value={os}>{os}</option>}
        </select>
        {filtered && (
          <button
            class="btn btn-ghost btn-small"
            onClick={() => {
              setText('');
              setQuery({ q: null, group: null, status: null, os: null, offset: null });
            }}
          >
            Clear
          </button>
        )}
      </div>
      <ErrorBox error={error} />
      {loading && !data && <Loading />}
      {data && data.total === 0 && !filtered && <NoAgents />}
      {data && data.total === 0 && filtered && (
        <Empty title="No agents match these filters" testid="agents-empty-filtered">
          <p>Try a shorter search or clear the filters.</p>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div class="table-wrap" aria-busy={loading} data-loading={loading ? 'true' : undefined}>
          <table class="table" data-testid="agents-table">
            <thead>
              <tr>
                <SortTh label="PC" field="pc_id" sort={sort} />
                <th class="hide-sm">Groups</th>
                <SortTh label="OS" field="os" sort={sort} />
                <SortTh label="Version" field="agent_version" sort={sort} cls="hide-sm" />
                <SortTh label="Last heartbeat" field="last_heartbeat" sort={sort} />
              </tr>
            </thead>
            <tbody>
              {data.items.map((a) => (
                <tr
                  key={a.pc_id}
                  data-testid="agent-row"
                  data-pc={a.pc_id}
                  data-status={a.online ? 'online' : 'offline'}
                  class="clickable"
                  onClick={(e) => {
                    if ((e.target as HTMLElement).closest('a')) return;
                    navigate(`/agents/${encodeURIComponent(a.pc_id)}`);
                  }}
                >
                  <td>
                    <StatusDot online={a.online} />
                    <Link href={`/agents/${encodeURIComponent(a.pc_id)}`} class="strong">
                      {a.pc_id}
                    </Link>
                    {a.hostname && a.hostname !== a.pc_id && <div class="muted small hide-sm">{a.hostname}</div>}
                  </td>
                  <td class="hide-sm">
                    {(a.groups ?? []).map((g) => (
                      <span class="tag" key={g}>
                        {g}
                      </span>
                    ))}
                  </td>
                  <td>
                    {a.os}
                    {a.arch && <span class="muted small"> {a.arch}</span>}
                  </td>
                  <td class="hide-sm mono small">{a.agent_version}</td>
                  <td title={absTime(a.last_heartbeat)}>{relativeTime(a.last_heartbeat)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {data && <Pager total={data.total} limit={limit} offset={offset} onOffset={(o) => setQuery({ offset: o || null })} />}
    </div>
  );
}

/** A column header that sorts server-side (?sort=field, -field = descending). */
function SortTh({ label, field, sort, cls }: { label: string; field: string; sort: string; cls?: string }) {
  const cur = sort.replace(/^-/, '') === field || (!sort && field === 'pc_id');
  const desc = cur && sort.startsWith('-');
  const next = cur && !desc ? `-${field}` : field;
  return (
    <th class={cls} aria-sort={cur ? (desc ? 'descending' : 'ascending') : 'none'}>
      <button
        class="th-sort"
        data-testid={`sort-${field}`}
        onClick={() => setQuery({ sort: next === 'pc_id' ? null : next, offset: null })}
      >
        {label}
        <span class="muted" aria-hidden="true">
          {cur ? (desc ? ' ↓' : ' ↑') : ''}
        </span>
      </button>
    </th>
  );
}

function NoAgents() {
  const host = window.location.hostname || 'HOST';
  return (
    <Empty title="No agents yet" testid="agents-empty">
      <p>
        An agent is the small daemon that runs on every PC you manage. Start one on any machine that can reach this
        server's NATS port (4222):
      </p>
      <CopyBlock text={`kanade agent --nats-url nats://${host}:4222`} testid="agent-start-command" />
      <p class="muted">
        It appears here within a few seconds. To keep it running, install it as a service with{' '}
        <code>kanade agent install</code>. For a quick local try, <code>kanade dev</code> runs a server and one agent
        together.
      </p>
    </Empty>
  );
}

export function AgentDetail({ pc }: { pc: string }) {
  useNow();
  const base = `/api/agents/${encodeURIComponent(pc)}`;
  const agent = useApi<Agent>(base, { poll: 15000 });
  const results = useApi<Page<Result>>(withQuery('/api/results', { pc, limit: 20 }), { poll: 15000 });
  const inv = useApi<unknown>(`/api/inventory/${encodeURIComponent(pc)}`);
  const eff = useApi<unknown>(`${base}/effective-config`);
  const groups = useApi<unknown>('/api/groups');
  const canOperate = useCanOperate();

  if (isStatus(agent.error, 404)) {
    return (
      <div class="page">
        <h1>Agent {pc}</h1>
        <Empty title="Unknown agent">
          <p>
            No agent called <code>{pc}</code> has reported. <Link href="/agents">Back to agents</Link>.
          </p>
        </Empty>
      </div>
    );
  }
  const a = agent.data;
  return (
    <div class="page">
      <div class="crumbs">
        <Link href="/agents">Agents</Link> /
      </div>
      <div class="page-head">
        <h1>
          {a && <StatusDot online={a.online} />} {pc}
        </h1>
        {a && (
          <Badge kind={a.online ? 'ok' : 'neutral'} testid="agent-status">
            {a.online ? 'online' : 'offline'}
          </Badge>
        )}
      </div>
      <ErrorBox error={agent.error} />
      {a && (
        <div class="grid-2">
          <div class="card">
            <h2>Agent</h2>
            <dl class="kv" data-testid="agent-fields">
              <dt>Hostname</dt>
              <dd>{a.hostname || '—'}</dd>
              <dt>OS / arch</dt>
              <dd>
                {a.os} {a.arch}
              </dd>
              <dt>Agent version</dt>
              <dd class="mono">{a.agent_version || '—'}</dd>
              <dt>Last heartbeat</dt>
              <dd title={absTime(a.last_heartbeat)}>{relativeTime(a.last_heartbeat)}</dd>
              <dt>First seen</dt>
              <dd>{absTime(a.first_seen)}</dd>
              <dt>Booted</dt>
              <dd>{relativeTime(a.boot_time)}</dd>
              <dt>Agent memory / CPU</dt>
              <dd>
                {formatBytes(a.agent_rss_bytes)} · {a.agent_cpu_pct !== undefined ? `${a.agent_cpu_pct.toFixed(1)}%` : '—'}
              </dd>
            </dl>
          </div>
          <GroupsEditor pc={pc} groups={a.groups ?? []} known={groupNames(groups.data)} onSaved={agent.reload} readOnly={!canOperate} />
        </div>
      )}
      <section class="card">
        <h2>Recent results</h2>
        <ErrorBox error={results.error} />
        {results.data && results.data.items.length === 0 && <p class="muted">This PC has not run anything yet.</p>}
        {results.data && results.data.items.length > 0 && (
          <div class="table-wrap">
            <table class="table" data-testid="agent-results">
              <thead>
                <tr>
                  <th>Job</th>
                  <th>Status</th>
                  <th>Exit</th>
                  <th class="hide-sm">Took</th>
                  <th>When</th>
                </tr>
              </thead>
              <tbody>
                {results.data.items.map((r) => (
                  <tr key={r.result_id} data-testid="agent-result-row">
                    <td>
                      <Link href={`/executions/${encodeURIComponent(r.exec_id)}`}>{r.job_id}</Link>
                    </td>
                    <td>
                      <Badge kind={statusKind(r.status)}>{r.status}</Badge>
                    </td>
                    <td class="mono">{r.exit_code ?? '—'}</td>
                    <td class="hide-sm">{elapsed(r.started_at, r.finished_at)}</td>
                    <td title={absTime(r.finished_at ?? r.started_at)}>{relativeTime(r.finished_at ?? r.started_at ?? r.recorded_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <div class="grid-2">
        <section class="card">
          <h2>Inventory</h2>
          {isStatus(inv.error, 404) ? (
            <p class="muted">No inventory collected yet (agents send it at start and daily).</p>
          ) : (
            <ErrorBox error={inv.error} />
          )}
          {inv.data !== undefined && (
            <div class="scroll-box" data-testid="agent-inventory">
              <JsonView value={inv.data} />
            </div>
          )}
        </section>
        <section class="card">
          <h2>Effective config</h2>
          <ErrorBox error={isStatus(eff.error, 404) ? null : eff.error} />
          {eff.data !== undefined && (
            <div class="scroll-box" data-testid="agent-effective-config">
              <JsonView value={eff.data} />
            </div>
          )}
        </section>
      </div>
      {canOperate && <DeleteAgent pc={pc} />}
    </div>
  );
}

function GroupsEditor({
  pc,
  groups,
  known,
  onSaved,
  readOnly,
}: {
  pc: string;
  groups: string[];
  known: string[];
  onSaved: () => void;
  readOnly?: boolean;
}) {
  const [list, setList] = useState<string[]>(groups);
  const [add, setAdd] = useState('');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState('');
  const [saved, setSaved] = useState(false);
  const dirty = list.join('\n') !== groups.join('\n');
  useEffect(() => {
    if (!busy) setList(groups);
  }, [groups.join('\n')]);

  const addOne = () => {
    const names = add
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (!names.length) return;
    setList([...new Set([...list, ...names])]);
    setAdd('');
    setSaved(false);
  };
  const save = async () => {
    setBusy(true);
    setErr('');
    try {
      await api(`/api/agents/${encodeURIComponent(pc)}/groups`, { method: 'PUT', json: { groups: list } });
      setSaved(true);
      onSaved();
    } catch (e) {
      setErr(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="card" data-testid="agent-groups">
      <h2>Groups</h2>
      <p class="muted small">Groups decide which commands this PC receives (targets and schedules name groups).</p>
      <div class="taglist">
        {list.length === 0 && <span class="muted">No groups.</span>}
        {list.map((g) => (
          <span class="tag tag-edit" key={g} data-testid="agent-group">
            {g}
            <button
              hidden={readOnly}
              aria-label={`Remove ${g}`}
              onClick={() => {
                setList(list.filter((x) => x !== g));
                setSaved(false);
              }}
            >
              ×
            </button>
          </span>
        ))}
      </div>
      <div class="row" hidden={readOnly}>
        <input
          list="group-names-edit"
          placeholder="Add a group"
          value={add}
          onInput={(e) => setAdd((e.currentTarget as HTMLInputElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              addOne();
            }
          }}
          data-testid="agent-group-input"
          aria-label="Group name"
        />
        <datalist id="group-names-edit">
          {known.map((g) => (
            <option key={g} value={g} />
          ))}
        </datalist>
        <button class="btn" onClick={addOne} data-testid="agent-group-add">
          Add
        </button>
        <button class="btn btn-primary" disabled={!dirty || busy} onClick={save} data-testid="agent-groups-save">
          {busy ? 'Saving…' : 'Save groups'}
        </button>
      </div>
      {err && (
        <div class="alert alert-error" role="alert" data-testid="agent-groups-error">
          {err}
        </div>
      )}
      {saved && !dirty && <div class="alert alert-ok">Saved. The agent picks up the change live.</div>}
    </div>
  );
}

function DeleteAgent({ pc }: { pc: string }) {
  const [err, setErr] = useState('');
  return (
    <div class="danger-zone">
      <button
        class="btn btn-danger btn-small"
        data-testid="agent-delete"
        onClick={async () => {
          if (!confirm(`Forget agent ${pc}? It reappears if it sends another heartbeat.`)) return;
          try {
            await api(`/api/agents/${encodeURIComponent(pc)}`, { method: 'DELETE' });
            navigate('/agents');
          } catch (e) {
            setErr(errorText(e));
          }
        }}
      >
        Forget this agent
      </button>
      {err && <span class="error-text">{err}</span>}
    </div>
  );
}

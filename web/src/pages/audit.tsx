import { useEffect, useState } from 'preact/hooks';
import { withQuery } from '../lib/api';
import { useApi, useDebounced, useNow } from '../lib/hooks';
import { setQuery, useQuery } from '../lib/router';
import type { AuditEntry, Page } from '../lib/types';
import { absTime, relativeTime } from '../lib/format';
import { Empty, ErrorBox, Loading, Pager } from '../components';

const LIMIT = 50;

function FilterInput({ name, label }: { name: string; label: string }) {
  const q = useQuery();
  const [v, setV] = useState(q.get(name) ?? '');
  const d = useDebounced(v, 300);
  useEffect(() => {
    if (d !== (q.get(name) ?? '')) setQuery({ [name]: d.trim(), offset: null });
  }, [d]);
  const fromURL = q.get(name) ?? '';
  useEffect(() => {
    // The URL changed from elsewhere (a click on a value): follow it.
    if (fromURL !== d) setV(fromURL);
  }, [fromURL]);
  return (
    <input
      placeholder={label}
      aria-label={label}
      value={v}
      onInput={(e) => setV((e.currentTarget as HTMLInputElement).value)}
      data-testid={`audit-${name}`}
    />
  );
}

export function Audit() {
  useNow();
  const q = useQuery();
  const offset = Math.max(0, parseInt(q.get('offset') ?? '0', 10) || 0);
  const actor = q.get('actor') ?? '';
  const action = q.get('action') ?? '';
  const target = q.get('target') ?? '';
  const { data, error, loading } = useApi<Page<AuditEntry>>(withQuery('/api/audit', { actor, action, target, limit: LIMIT, offset }), {
    poll: 30000,
  });
  const filtered = !!(actor || action || target);
  return (
    <div class="page">
      <div class="page-head">
        <h1>Audit log</h1>
        {data && <span class="muted">{data.total.toLocaleString()} entries</span>}
      </div>
      <div class="filters">
        <FilterInput name="actor" label="Actor" />
        <FilterInput name="action" label="Action (exec, job.apply…)" />
        <FilterInput name="target" label="Target" />
      </div>
      <ErrorBox error={error} />
      {loading && !data && <Loading />}
      {data && data.total === 0 && (
        <Empty title={filtered ? 'No entries match' : 'Nothing audited yet'} testid="audit-empty">
          <p>Every change (jobs, schedules, groups, config) and every exec is recorded here with who did it.</p>
        </Empty>
      )}
      {data && data.items.length > 0 && (
        <div class="table-wrap">
          <table class="table" data-testid="audit-table">
            <thead>
              <tr>
                <th>When</th>
                <th>Actor</th>
                <th>Action</th>
                <th>Target</th>
                <th class="hide-sm">Details</th>
              </tr>
            </thead>
            <tbody>
              {data.items.map((a) => (
                <tr key={a.seq} data-testid="audit-row">
                  <td title={absTime(a.occurred_at)}>{relativeTime(a.occurred_at)}</td>
                  <td>
                    <button class="linkbtn" onClick={() => setQuery({ actor: a.actor, offset: null })} title="Filter by this actor">
                      {a.actor}
                    </button>
                  </td>
                  <td>
                    <button class="linkbtn mono" onClick={() => setQuery({ action: a.action, offset: null })} title="Filter by this action">
                      {a.action}
                    </button>
                  </td>
                  <td class="mono small">{a.target}</td>
                  <td class="hide-sm">
                    {a.payload !== undefined && a.payload !== null && (
                      <details>
                        <summary class="small">payload</summary>
                        <pre class="small">{JSON.stringify(a.payload, null, 2)}</pre>
                      </details>
                    )}
                  </td>
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

import { Fragment } from 'preact';
// Renders an arbitrary JSON value as nested key/value lists.
export function JsonView({ value, depth = 0 }: { value: unknown; depth?: number }) {
  if (value === null || value === undefined) return <span class="muted">—</span>;
  if (Array.isArray(value)) {
    if (value.length === 0) return <span class="muted">none</span>;
    if (value.every((x) => x === null || typeof x !== 'object')) return <span>{value.map(String).join(', ')}</span>;
    return (
      <ol class="jv-list">
        {value.map((x, i) => (
          <li key={i}>
            <JsonView value={x} depth={depth + 1} />
          </li>
        ))}
      </ol>
    );
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) return <span class="muted">none</span>;
    if (depth > 4) return <code>{JSON.stringify(value)}</code>;
    return (
      <dl class="kv">
        {entries.map(([k, v]) => (
          <Fragment key={k}>
            <dt>{k}</dt>
            <dd>
              <JsonView value={v} depth={depth + 1} />
            </dd>
          </Fragment>
        ))}
      </dl>
    );
  }
  return <span>{String(value)}</span>;
}

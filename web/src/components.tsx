import type { ComponentChildren } from 'preact';
import { useMemo, useRef, useState } from 'preact/hooks';
import type { FieldError } from './lib/types';
import { findErrorLine } from './lib/yamlerr';
import { errorText } from './lib/api';
import { pct } from './lib/format';

export function StatusDot({ online, title }: { online: boolean; title?: string }) {
  return (
    <span
      class={`dot ${online ? 'dot-on' : 'dot-off'}`}
      role="img"
      aria-label={online ? 'online' : 'offline'}
      title={title ?? (online ? 'online' : 'offline')}
    />
  );
}

export interface Counts {
  succeeded: number;
  failed: number;
  skipped?: number;
  lost?: number;
  running?: number;
  total: number;
}

/** A horizontal stacked bar: success / failure / skipped / lost / running / pending. */
export function RatioBar({ c, testid, compact }: { c: Counts; testid?: string; compact?: boolean }) {
  const total = Math.max(c.total, c.succeeded + c.failed + (c.skipped ?? 0) + (c.lost ?? 0) + (c.running ?? 0));
  const seg = (n: number | undefined, cls: string, label: string) =>
    n && total ? <span class={`seg ${cls}`} style={{ width: `${(100 * n) / total}%` }} title={`${label}: ${n}`} /> : null;
  const done = c.succeeded + c.failed + (c.skipped ?? 0) + (c.lost ?? 0);
  const label = `${c.succeeded} succeeded, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}${
    c.lost ? `, ${c.lost} lost` : ''
  }${c.running ? `, ${c.running} running` : ''} of ${total}`;
  return (
    <div class={`ratio ${compact ? 'ratio-compact' : ''}`} data-testid={testid} title={label} aria-label={label} role="img">
      <div class="bar">
        {seg(c.succeeded, 'seg-ok', 'succeeded')}
        {seg(c.failed, 'seg-fail', 'failed')}
        {seg(c.lost, 'seg-lost', 'lost')}
        {seg(c.skipped, 'seg-skip', 'skipped')}
        {seg(c.running, 'seg-run', 'running')}
      </div>
      {!compact && (
        <span class="ratio-text muted">
          {done ? pct(c.succeeded, done) : '—'} ok
        </span>
      )}
    </div>
  );
}

export function Pager({
  total,
  limit,
  offset,
  onOffset,
}: {
  total: number;
  limit: number;
  offset: number;
  onOffset: (o: number) => void;
}) {
  if (total <= 0) return null;
  const end = Math.min(offset + limit, total);
  return (
    <div class="pager" data-testid="pager">
      <span class="muted" data-testid="pager-range">
        {offset + 1}–{end} of {total.toLocaleString()}
      </span>
      <button class="btn btn-small" disabled={offset <= 0} onClick={() => onOffset(Math.max(0, offset - limit))} data-testid="pager-prev">
        ← Prev
      </button>
      <button class="btn btn-small" disabled={end >= total} onClick={() => onOffset(offset + limit)} data-testid="pager-next">
        Next →
      </button>
    </div>
  );
}

export function Empty({ title, children, testid }: { title: string; children?: ComponentChildren; testid?: string }) {
  return (
    <div class="empty" data-testid={testid ?? 'empty'}>
      <h3>{title}</h3>
      {children}
    </div>
  );
}

export function ErrorBox({ error, testid }: { error: unknown; testid?: string }) {
  if (!error) return null;
  return (
    <div class="alert alert-error" role="alert" data-testid={testid ?? 'error'}>
      {errorText(error)}
    </div>
  );
}

export function Loading() {
  return <div class="loading muted">Loading…</div>;
}

export function CopyBlock({ text, testid }: { text: string; testid?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="copyblock">
      <pre data-testid={testid}>{text}</pre>
      <button
        class="btn btn-small"
        onClick={() => {
          navigator.clipboard?.writeText(text).then(
            () => {
              setCopied(true);
              setTimeout(() => setCopied(false), 1500);
            },
            () => undefined,
          );
        }}
      >
        {copied ? 'Copied' : 'Copy'}
      </button>
    </div>
  );
}

/** Online/offline donut (pure SVG). */
export function Donut({ on, off, size = 120 }: { on: number; off: number; size?: number }) {
  const total = on + off;
  const r = 15.9155; // circumference 100
  const onPct = total ? (100 * on) / total : 0;
  return (
    <svg viewBox="0 0 42 42" width={size} height={size} class="donut" data-testid="health-donut" role="img" aria-label={`${on} online, ${off} offline`}>
      <circle cx="21" cy="21" r={r} class="donut-track" />
      {total > 0 && (
        <circle
          cx="21"
          cy="21"
          r={r}
          class="donut-on"
          stroke-dasharray={`${onPct} ${100 - onPct}`}
          stroke-dashoffset="25"
        />
      )}
      <text x="21" y="20" class="donut-num">
        {total ? pct(on, total) : '—'}
      </text>
      <text x="21" y="26" class="donut-label">
        online
      </text>
    </svg>
  );
}

export interface LocatedError extends FieldError {
  line: number | null;
}

export function locateErrors(doc: string, fields: FieldError[]): LocatedError[] {
  return fields.map((f) => ({ ...f, line: findErrorLine(doc, f.path, f.message) }));
}

/**
 * A monospace YAML editor: a textarea over a backdrop that highlights the
 * lines that have validation errors, with a line-number gutter.
 */
export function YamlEditor({
  value,
  onInput,
  errorLines,
  testid,
  textareaRef,
  rows = 22,
  readOnly,
}: {
  value: string;
  onInput: (v: string) => void;
  errorLines: Map<number, string>;
  testid: string;
  textareaRef?: { current: HTMLTextAreaElement | null };
  rows?: number;
  readOnly?: boolean;
}) {
  const back = useRef<HTMLDivElement>(null);
  const gutter = useRef<HTMLDivElement>(null);
  const lines = useMemo(() => value.split('\n'), [value]);
  const sync = (e: Event) => {
    const t = e.currentTarget as HTMLTextAreaElement;
    if (back.current) back.current.style.transform = `translate(${-t.scrollLeft}px, ${-t.scrollTop}px)`;
    if (gutter.current) gutter.current.style.transform = `translateY(${-t.scrollTop}px)`;
  };
  return (
    <div class="editor" style={{ height: `calc(${rows} * var(--editor-lh) + 2 * var(--editor-pad))` }}>
      <div class="editor-gutter" aria-hidden="true">
        <div ref={gutter}>
          {lines.map((_, i) => (
            <div class={errorLines.has(i + 1) ? 'gl gl-err' : 'gl'} key={i}>
              {i + 1}
            </div>
          ))}
        </div>
      </div>
      <div class="editor-main">
        <div class="editor-back" aria-hidden="true">
          <div ref={back}>
            {lines.map((l, i) => {
              const err = errorLines.get(i + 1);
              return (
                <div
                  key={i}
                  class={err !== undefined ? 'bl bl-err' : 'bl'}
                  data-testid={err !== undefined ? 'editor-error-line' : undefined}
                  data-line={err !== undefined ? i + 1 : undefined}
                >
                  {l || ' '}
                </div>
              );
            })}
          </div>
        </div>
        <textarea
          ref={textareaRef}
          data-testid={testid}
          class="editor-text"
          spellcheck={false}
          autocapitalize="off"
          autocomplete="off"
          wrap="off"
          readOnly={readOnly}
          value={value}
          onInput={(e) => onInput((e.currentTarget as HTMLTextAreaElement).value)}
          onScroll={sync}
          onKeyDown={(e) => {
            // Tab inserts two spaces (YAML has no tabs); Shift+Tab leaves the field.
            if (e.key === 'Tab' && !e.shiftKey && !readOnly) {
              e.preventDefault();
              const t = e.currentTarget as HTMLTextAreaElement;
              const s = t.selectionStart;
              const v = t.value.slice(0, s) + '  ' + t.value.slice(t.selectionEnd);
              onInput(v);
              requestAnimationFrame(() => t.setSelectionRange(s + 2, s + 2));
            }
          }}
        />
      </div>
    </div>
  );
}

/** The list of server validation errors shown next to an editor. */
export function FieldErrors({
  message,
  errors,
  onPick,
  testid,
}: {
  message: string;
  errors: LocatedError[];
  onPick: (line: number) => void;
  testid: string;
}) {
  return (
    <div class="alert alert-error fielderrors" role="alert" data-testid={testid}>
      <strong>{message || 'The server rejected this document'}</strong>
      {errors.length > 0 && (
        <ul>
          {errors.map((f, i) => (
            <li key={i} data-testid="field-error" data-path={f.path}>
              <code class="fe-path">{f.path || '(document)'}</code>
              <span class="fe-msg">{f.message}</span>
              {f.line !== null && (
                <button class="linkbtn" onClick={() => onPick(f.line as number)}>
                  line {f.line}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Select line `n` (1-based) of a textarea and scroll it into view. */
export function selectLine(t: HTMLTextAreaElement | null, n: number): void {
  if (!t) return;
  const lines = t.value.split('\n');
  let start = 0;
  for (let i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
  const end = start + (lines[n - 1]?.length ?? 0);
  t.focus();
  t.setSelectionRange(start, end);
  const lh = parseFloat(getComputedStyle(t).lineHeight) || 20;
  t.scrollTop = Math.max(0, (n - 4) * lh);
  t.dispatchEvent(new Event('scroll'));
}

export function Badge({ kind, children, testid }: { kind: string; children: ComponentChildren; testid?: string }) {
  return (
    <span class={`badge badge-${kind}`} data-testid={testid}>
      {children}
    </span>
  );
}

export function statusKind(s: string): string {
  switch (s) {
    case 'success':
    case 'completed':
    case 'ok':
    case 'fired_whole':
    case 'fired_pcs':
      return 'ok';
    case 'failure':
    case 'failed':
    case 'lost':
    case 'expired':
    case 'dispatch_failed':
      return 'fail';
    case 'running':
      return 'run';
    case 'pending':
      return 'pending';
    default:
      return 'neutral';
  }
}

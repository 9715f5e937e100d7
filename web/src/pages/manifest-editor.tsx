// The YAML manifest editor and the delete button shared by the job and schedule pages.
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, errorText } from '../lib/api';
import { isStatus } from '../lib/hooks';
import { Link, navigate, useQuery } from '../lib/router';
import { toYaml } from '../lib/toyaml';
import { useCanOperate } from '../lib/me';
import { Empty, ErrorBox, FieldErrors, Loading, locateErrors, selectLine, YamlEditor, type LocatedError } from '../components';

/** Extract `id:` from a manifest (top-level key) for navigation after a save. */
export function manifestId(doc: string): string | null {
  const m = /^id:\s*["']?([A-Za-z0-9_-]+)["']?\s*(#.*)?$/m.exec(doc);
  if (m) return m[1];
  try {
    const j = JSON.parse(doc);
    return typeof j?.id === 'string' ? j.id : null;
  } catch {
    return null;
  }
}

/** Load a stored manifest as editable YAML (the server may answer YAML text or JSON). */
export function useManifest(path: string | null): { text: string | null; error: unknown; notFound: boolean } {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    if (!path) return;
    const ctl = new AbortController();
    api<unknown>(path, { signal: ctl.signal })
      .then((d) => {
        if (typeof d === 'string') setText(d.endsWith('\n') ? d : d + '\n');
        else if (d && typeof d === 'object') {
          const o = { ...(d as Record<string, unknown>) };
          for (const k of ['next_fire', 'mode', 'coverage', 'dormant', 'warnings']) delete o[k];
          setText(toYaml(o));
        }
      })
      .catch((e) => {
        if ((e as Error).name !== 'AbortError') setError(e);
      });
    return () => ctl.abort();
  }, [path]);
  return { text, error, notFound: isStatus(error, 404) };
}

/**
 * The page of one stored manifest (a job or a schedule), or of a new one
 * when id is null: it loads the YAML, shows "no such …" or the loading
 * state the same way for both kinds, then hands the text to editor.
 */
export function ManifestPage({
  id,
  kind,
  listHref,
  example,
  editor,
}: {
  id: string | null;
  kind: 'job' | 'schedule';
  listHref: string;
  example: string;
  editor: (initial: string) => JSX.Element;
}) {
  const loaded = useManifest(id ? `/api${listHref}/${encodeURIComponent(id)}?format=yaml` : null);
  const title = `${kind === 'job' ? 'Job' : 'Schedule'} ${id}`;
  if (id && loaded.notFound) {
    return (
      <div class="page">
        <h1>{title}</h1>
        <Empty title={`No such ${kind}`} testid={`${kind}-not-found`}>
          <p>
            <Link href={listHref}>Back to {kind}s</Link> or <Link href={`${listHref}/new`}>create a new one</Link>.
          </p>
        </Empty>
      </div>
    );
  }
  if (id && loaded.text === null) {
    return (
      <div class="page">
        <h1>{title}</h1>
        <ErrorBox error={loaded.error} />
        {!loaded.error && <Loading />}
      </div>
    );
  }
  return editor(id ? (loaded.text as string) : example);
}

export interface EditorState {
  text: string;
  setText: (s: string) => void;
  message: string;
  errors: LocatedError[];
  errorLines: Map<number, string>;
  setServerError: (e: unknown) => void;
  clear: () => void;
}

export function useEditorState(initial: string): EditorState {
  const [text, setText] = useState(initial);
  const [message, setMessage] = useState('');
  const [fields, setFields] = useState<{ path: string; message: string }[]>([]);
  const errors = useMemo(() => locateErrors(text, fields), [text, fields]);
  const errorLines = useMemo(() => {
    const m = new Map<number, string>();
    for (const e of errors) if (e.line !== null) m.set(e.line, `${e.path}: ${e.message}`);
    return m;
  }, [errors]);
  return {
    text,
    setText,
    message,
    errors,
    errorLines,
    setServerError: (e: unknown) => {
      if (e instanceof ApiError) {
        setMessage(e.message);
        setFields(e.fields);
      } else {
        setMessage(errorText(e));
        setFields([]);
      }
    },
    clear: () => {
      setMessage('');
      setFields([]);
    },
  };
}

export interface ManifestEditorProps {
  /** Stored id, or null for a new manifest. */
  id: string | null;
  initial: string;
  /** List page, e.g. "/jobs"; a saved manifest lives at `${listHref}/<id>`. */
  listHref: string;
  /** Breadcrumb label of the list page, e.g. "Jobs". */
  listLabel: string;
  /** Page heading. */
  title: string;
  /** Save button label for a new manifest, e.g. "Create job". */
  createLabel: string;
  /** POST target for saving (body: the YAML text). */
  saveUrl: string;
  /** POST target for a dry run; without it there is no Validate button. */
  validateUrl?: string;
  /** Test id prefix: `${prefix}-editor`, `-save`, `-validate`, `-saved`, `-errors`. */
  testidPrefix: string;
  rows?: number;
  /** Reference notes under the editor. */
  help: ComponentChildren;
  /** Right-hand column. */
  side?: ComponentChildren;
  /** Below the editor and the side column. */
  after?: ComponentChildren;
  /** Called after a successful save, before navigating to a new id. */
  onSaved?: () => void;
}

export function ManifestEditor(p: ManifestEditorProps) {
  const { id } = p;
  const ed = useEditorState(p.initial);
  const ta = useRef<HTMLTextAreaElement>(null);
  const [busy, setBusy] = useState(false);
  const [note, setNote] = useState('');
  const q = useQuery();
  const canOperate = useCanOperate();

  const send = async (validateOnly: boolean) => {
    setBusy(true);
    setNote('');
    ed.clear();
    try {
      const res = await api<Record<string, unknown> | string>(validateOnly ? (p.validateUrl as string) : p.saveUrl, {
        method: 'POST',
        yaml: ed.text,
      });
      const warnings = res && typeof res === 'object' && Array.isArray(res.warnings) ? (res.warnings as unknown[]).map(String) : [];
      if (validateOnly) {
        setNote(['Valid.', ...warnings].join(' '));
        return;
      }
      const newId = (res && typeof res === 'object' && typeof res.id === 'string' ? res.id : null) ?? manifestId(ed.text);
      setNote(['Saved.', ...warnings].join(' '));
      p.onSaved?.();
      if (newId && newId !== id) navigate(`${p.listHref}/${encodeURIComponent(newId)}?saved=1`);
    } catch (e) {
      ed.setServerError(e);
    } finally {
      setBusy(false);
    }
  };

  const tid = p.testidPrefix;
  return (
    <div class="page">
      <div class="crumbs">
        <Link href={p.listHref}>{p.listLabel}</Link> /
      </div>
      <div class="page-head">
        <h1>{p.title}</h1>
      </div>
      <div class="split">
        <div class="split-main">
          <YamlEditor value={ed.text} onInput={ed.setText} errorLines={ed.errorLines} testid={`${tid}-editor`} textareaRef={ta} rows={p.rows} />
          <div class="row">
            <button class="btn btn-primary" disabled={busy || !canOperate} onClick={() => send(false)} data-testid={`${tid}-save`}>
              {busy ? 'Saving…' : id ? 'Save' : p.createLabel}
            </button>
            {p.validateUrl && (
              <button class="btn" disabled={busy} onClick={() => send(true)} data-testid={`${tid}-validate`}>
                Validate
              </button>
            )}
            {(note || (q.get('saved') && !ed.message)) && (
              <span class="ok-text" data-testid={`${tid}-saved`}>
                {note || 'Saved.'}
              </span>
            )}
          </div>
          {ed.message && (
            <FieldErrors message={ed.message} errors={ed.errors} onPick={(n) => selectLine(ta.current, n)} testid={`${tid}-errors`} />
          )}
          {p.help}
        </div>
        <div class="split-side">{p.side}</div>
      </div>
      {p.after}
    </div>
  );
}

/** A confirmed DELETE, then back to the list; the error shows as an alert box or as inline text. */
export function DeleteButton({
  url,
  confirmText,
  label,
  back,
  testid,
  errorTestid,
  inlineError,
}: {
  url: string;
  confirmText: string;
  label: string;
  /** Where to go after the delete. */
  back: string;
  testid: string;
  errorTestid?: string;
  inlineError?: boolean;
}) {
  const [err, setErr] = useState('');
  return (
    <div class="danger-zone">
      <button
        class="btn btn-danger btn-small"
        data-testid={testid}
        onClick={async () => {
          if (!confirm(confirmText)) return;
          try {
            await api(url, { method: 'DELETE' });
            navigate(back);
          } catch (e) {
            setErr(errorText(e));
          }
        }}
      >
        {label}
      </button>
      {err &&
        (inlineError ? (
          <span class="error-text" data-testid={errorTestid}>
            {err}
          </span>
        ) : (
          <div class="alert alert-error" data-testid={errorTestid}>
            {err}
          </div>
        ))}
    </div>
  );
}

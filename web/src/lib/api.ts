// The one API client: every request to the backend goes through api().
// It adds `Authorization: Bearer <token>` when a token is stored and sends
// the user to the Login page when the server answers 401.
import type { FieldError } from './types';
import { navigate } from './router';

const TOKEN_KEY = 'kanade.token';

export function getToken(): string {
  try {
    return localStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(t: string): void {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: token lives for this page only */
  }
}

export class ApiError extends Error {
  status: number;
  fields: FieldError[];
  body: unknown;
  constructor(status: number, message: string, fields: FieldError[] = [], body: unknown = null) {
    super(message);
    this.status = status;
    this.fields = fields;
    this.body = body;
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export function withQuery(path: string, q?: Query): string {
  if (!q) return path;
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null || v === '' || v === false) continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `${path}${path.includes('?') ? '&' : '?'}${s}` : path;
}

export interface ApiOptions {
  method?: string;
  query?: Query;
  /** JSON body (serialized here). */
  json?: unknown;
  /** YAML body, sent as application/yaml. */
  yaml?: string;
  signal?: AbortSignal;
  /** Statuses whose body is returned instead of thrown (e.g. 503 of /api/health). */
  accept?: number[];
}

export function goLogin(): void {
  const here = window.location.pathname + window.location.search;
  if (window.location.pathname === '/login') return;
  navigate('/login?next=' + encodeURIComponent(here));
}

export async function api<T = unknown>(path: string, opts: ApiOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = getToken();
  if (token) headers['Authorization'] = `Bearer ${token}`;
  let body: string | undefined;
  if (opts.yaml !== undefined) {
    headers['Content-Type'] = 'application/yaml';
    body = opts.yaml;
  } else if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  let res: Response;
  try {
    res = await fetch(withQuery(path, opts.query), {
      method: opts.method ?? (body !== undefined ? 'POST' : 'GET'),
      headers,
      body,
      signal: opts.signal,
      credentials: 'same-origin',
    });
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw new ApiError(0, 'The kanade server cannot be reached. Is it running?');
  }
  const data = await readBody(res);
  if (res.ok || opts.accept?.includes(res.status)) return data as T;
  if (res.status === 401) goLogin();
  throw toError(res.status, data);
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text();
  const ct = res.headers.get('Content-Type') ?? '';
  if (ct.includes('json') || /^\s*[[{]/.test(text)) {
    try {
      const data = JSON.parse(text);
      // A Go nil slice encodes as null: lists are always arrays here.
      if (data && typeof data === 'object' && 'items' in data && data.items === null) data.items = [];
      return data;
    } catch {
      /* fall through: plain text */
    }
  }
  return text;
}

function toError(status: number, data: unknown): ApiError {
  let msg = '';
  let fields: FieldError[] = [];
  if (data && typeof data === 'object') {
    const d = data as { error?: unknown; message?: unknown; fields?: unknown };
    if (typeof d.error === 'string') msg = d.error;
    else if (typeof d.message === 'string') msg = d.message;
    if (Array.isArray(d.fields)) {
      fields = d.fields
        .filter((f) => f && typeof f === 'object')
        .map((f: { path?: unknown; message?: unknown }) => ({
          path: typeof f.path === 'string' ? f.path : '',
          message: typeof f.message === 'string' ? f.message : String(f.message ?? ''),
        }));
    }
  } else if (typeof data === 'string') {
    msg = data.trim().slice(0, 300);
  }
  if (!msg) msg = defaultMessage(status);
  return new ApiError(status, msg, fields, data);
}

function defaultMessage(status: number): string {
  switch (status) {
    case 401:
      return 'Sign in required';
    case 403:
      return 'Your role does not allow this';
    case 404:
      return 'Not found';
    case 409:
      return 'Conflict';
    case 413:
      return 'Request too large';
    case 503:
      return 'The server is degraded (broker or store unavailable)';
    default:
      return `Request failed (HTTP ${status})`;
  }
}

/** URL for an EventSource: it cannot send headers, so the token rides in the query. */
export function streamURL(path: string): string {
  const t = getToken();
  return t ? withQuery(path, { access_token: t }) : path;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.status === 403 ? 'Your role does not allow this (403).' : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, ApiError, type ApiOptions } from './api';

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/**
 * GET `path` (null = don't fetch) whenever it changes, optionally polling.
 * Stale answers of an older path are dropped.
 */
export function useApi<T>(path: string | null, opts: { poll?: number; accept?: ApiOptions['accept'] } = {}): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState<boolean>(path !== null);
  const [nonce, setNonce] = useState(0);
  const lastPath = useRef<string | null>(null);
  const reload = useCallback(() => setNonce((n) => n + 1), []);

  useEffect(() => {
    if (path === null) {
      setLoading(false);
      return;
    }
    const ctl = new AbortController();
    if (lastPath.current !== path) {
      setLoading(true);
      lastPath.current = path;
    }
    api<T>(path, { signal: ctl.signal, accept: opts.accept })
      .then((d) => {
        setData(d);
        setError(null);
      })
      .catch((e) => {
        if ((e as Error).name === 'AbortError') return;
        setError(e);
      })
      .finally(() => {
        if (!ctl.signal.aborted) setLoading(false);
      });
    return () => ctl.abort();
  }, [path, nonce]);

  useEffect(() => {
    if (!opts.poll || path === null) return;
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, opts.poll);
    return () => window.clearInterval(t);
  }, [path, opts.poll]);

  return { data, error, loading, reload };
}

export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(t);
  }, [value, ms]);
  return v;
}

/** Re-render every `ms` so relative times stay fresh. */
export function useNow(ms = 15000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}

export function isStatus(e: unknown, status: number): boolean {
  return e instanceof ApiError && e.status === status;
}

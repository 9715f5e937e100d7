// Who am I? Optional: when the server offers GET /api/whoami ({name, role})
// the dashboard hides what a viewer may not do. The server checks every
// route anyway; hiding a button is not security.
import { useEffect, useState } from 'preact/hooks';
import { api } from './api';

export interface Me {
  name?: string;
  role?: string;
}

let cached: Promise<Me | null> | null = null;

export function loadMe(): Promise<Me | null> {
  if (!cached) {
    cached = api<unknown>('/api/whoami', { accept: [404, 405] })
      .then((d) => (d && typeof d === 'object' && typeof (d as Me).role === 'string' ? (d as Me) : null))
      .catch(() => null);
  }
  return cached;
}

export function forgetMe(): void {
  cached = null;
}

/** False only when the server says the caller is a viewer. */
export function useCanOperate(): boolean {
  const [me, setMe] = useState<Me | null>(null);
  useEffect(() => {
    let live = true;
    loadMe().then((m) => live && setMe(m));
    return () => {
      live = false;
    };
  }, []);
  return !(me && me.role === 'viewer');
}

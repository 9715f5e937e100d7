// Pure formatting helpers (unit-tested in format.test.ts).

const ZERO_YEAR = 1971; // Go's zero time (0001-01-01) and epoch-ish values mean "never".

export function parseTime(s: string | null | undefined): Date | null {
  if (!s) return null;
  const d = new Date(s);
  if (isNaN(d.getTime()) || d.getUTCFullYear() < ZERO_YEAR) return null;
  return d;
}

/** "just now", "42s ago", "5m ago", "3h ago", "2d ago", "in 4m", or "never". */
export function relativeTime(s: string | null | undefined, now: number = Date.now()): string {
  const d = parseTime(s);
  if (!d) return 'never';
  const diff = Math.round((now - d.getTime()) / 1000);
  const abs = Math.abs(diff);
  if (abs < 5) return 'just now';
  let text: string;
  if (abs < 60) text = `${abs}s`;
  else if (abs < 3600) text = `${Math.floor(abs / 60)}m`;
  else if (abs < 86400) text = `${Math.floor(abs / 3600)}h`;
  else if (abs < 86400 * 60) text = `${Math.floor(abs / 86400)}d`;
  else if (abs < 86400 * 730) text = `${Math.floor(abs / (86400 * 30))}mo`;
  else text = `${Math.floor(abs / (86400 * 365))}y`;
  return diff >= 0 ? `${text} ago` : `in ${text}`;
}

/** Local date-time, e.g. "2026-12-03 09:00:05". */
export function absTime(s: string | null | undefined): string {
  const d = parseTime(s);
  if (!d) return '—';
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Seconds between two timestamps as "1.2s", "3m 04s", "2h 10m"; "" when unknown. */
export function elapsed(from: string | null | undefined, to: string | null | undefined): string {
  const a = parseTime(from);
  const b = parseTime(to);
  if (!a || !b) return '';
  return formatSeconds((b.getTime() - a.getTime()) / 1000);
}

export function formatSeconds(sec: number): string {
  if (!isFinite(sec) || sec < 0) return '';
  if (sec < 10) return `${sec.toFixed(1)}s`;
  if (sec < 60) return `${Math.round(sec)}s`;
  const m = Math.floor(sec / 60);
  if (m < 60) return `${m}m ${String(Math.round(sec % 60)).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h ${String(m % 60).padStart(2, '0')}m`;
}

const UNIT: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };

/** Parse "30s", "10m", "1h30m", "7d" into seconds; null when invalid. */
export function parseDuration(s: string): number | null {
  const t = s.trim();
  if (!t) return null;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += parseFloat(m[1]) * UNIT[m[2]];
    pos = re.lastIndex;
  }
  if (pos !== t.length || pos === 0) return null;
  return total;
}

export function formatBytes(n: number | undefined): string {
  if (!n || n < 0) return '—';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < u.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${u[i]}`;
}

/** Split "a, b  c" into ["a","b","c"] (commas or whitespace). */
export function splitList(s: string): string[] {
  return s
    .split(/[\s,]+/)
    .map((x) => x.trim())
    .filter(Boolean);
}

export function pct(n: number, d: number): string {
  if (!d) return '—';
  return `${Math.round((100 * n) / d)}%`;
}

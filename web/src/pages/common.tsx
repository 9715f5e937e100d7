// Small pieces shared by several pages.
import type { Execution, ScheduleItem, Target, When } from '../lib/types';
import type { Counts } from '../components';
import { parseTime } from '../lib/format';

export function execCounts(e: Execution): Counts {
  return {
    succeeded: e.succeeded ?? 0,
    failed: e.failed ?? 0,
    skipped: e.skipped ?? 0,
    lost: e.lost ?? 0,
    running: e.running ?? 0,
    total: e.target_count ?? 0,
  };
}

export function execDone(e: Execution): number {
  return (e.succeeded ?? 0) + (e.failed ?? 0) + (e.skipped ?? 0) + (e.lost ?? 0);
}

export function isFinal(status: string): boolean {
  return status === 'completed' || status === 'expired';
}

export function targetText(t: Target | null | undefined): string {
  if (!t) return '—';
  const parts: string[] = [];
  if (t.all) parts.push('all agents');
  if (t.groups?.length) parts.push(`groups ${t.groups.join(', ')}`);
  if (t.pcs?.length) parts.push(t.pcs.length <= 3 ? `pcs ${t.pcs.join(', ')}` : `${t.pcs.length} pcs`);
  return parts.join(' + ') || '—';
}

function repeatText(r: unknown): string {
  if (r === 'once') return 'once';
  if (r && typeof r === 'object' && 'every' in r) return `every ${(r as { every: string }).every}`;
  return String(r);
}

export function whenText(w: When | null | undefined): string {
  if (!w) return '—';
  if (w.per_pc !== undefined && w.per_pc !== null) return `per PC, ${repeatText(w.per_pc)}`;
  if (w.per_target !== undefined && w.per_target !== null) return `per target, ${repeatText(w.per_target)}`;
  if (w.calendar) {
    const d = w.calendar.days?.length ? ` on ${w.calendar.days.join(', ')}` : w.calendar.at.length > 5 ? '' : ' daily';
    return `at ${w.calendar.at}${d}`;
  }
  return '—';
}

export function scheduleEnabled(s: ScheduleItem): boolean {
  return s.enabled === undefined || s.enabled === null || s.enabled;
}

/** Outside its active window (approximate for bare dates: read as local midnight). */
export function isDormant(s: ScheduleItem, now = Date.now()): boolean {
  if (typeof s.dormant === 'boolean') return s.dormant;
  const a = s.active;
  if (!a) return false;
  const from = a.from ? parseTime(a.from.length === 10 ? `${a.from}T00:00:00` : a.from) : null;
  const until = a.until ? parseTime(a.until.length === 10 ? `${a.until}T00:00:00` : a.until) : null;
  if (from && now < from.getTime()) return true;
  if (until && now >= until.getTime()) return true;
  return false;
}

export const EXAMPLE_JOB = `id: hello
version: "1"
description: Say hello from every PC
execute:
  shell: sh          # sh | bash | pwsh | powershell | cmd
  script: |
    echo "hello from $(hostname)"
    uname -a
  timeout: 1m
`;

export const EXAMPLE_SCHEDULE = `id: hello-nightly
job_id: hello
when:
  calendar: { at: "02:00", days: [mon-fri] }
target: { all: true }
jitter: 5m
tz: local
enabled: true
`;

/** Group names from GET /api/groups, whatever its exact layout. */
export function groupNames(v: unknown): string[] {
  const out = new Set<string>();
  const take = (x: unknown) => {
    if (typeof x === 'string') out.add(x);
    else if (x && typeof x === 'object') {
      const o = x as Record<string, unknown>;
      const n = o.name ?? o.group;
      if (typeof n === 'string') out.add(n);
    }
  };
  if (Array.isArray(v)) v.forEach(take);
  else if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o.items)) o.items.forEach(take);
    else if (o.groups && typeof o.groups === 'object')
      Array.isArray(o.groups) ? o.groups.forEach(take) : Object.keys(o.groups).forEach((k) => out.add(k));
    else Object.keys(o).forEach((k) => out.add(k));
  }
  return [...out].sort();
}

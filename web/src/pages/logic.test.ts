import { describe, expect, it } from 'vitest';
import { mergeResult } from './executions';
import { buildPlan, manifestId } from './jobs';
import { readHealth } from './overview';
import { groupNames, whenText, isDormant } from './common';
import type { Result } from '../lib/types';

const r = (pc: string, status: string, id = ''): Result => ({ result_id: id, exec_id: 'e', job_id: 'j', pc_id: pc, status });

describe('mergeResult', () => {
  it('replaces the pending row of the PC in place', () => {
    const list = [r('a', 'pending'), r('b', 'pending')];
    const out = mergeResult(list, r('b', 'running', 'r1'));
    expect(out.map((x) => `${x.pc_id}:${x.status}`)).toEqual(['a:pending', 'b:running']);
    const out2 = mergeResult(out, r('b', 'success', 'r1'));
    expect(out2.map((x) => `${x.pc_id}:${x.status}`)).toEqual(['a:pending', 'b:success']);
  });
  it('appends a result of a PC it did not know', () => {
    expect(mergeResult([r('a', 'pending')], r('z', 'success', 'r9'))).toHaveLength(2);
  });
  it('keeps two results of one PC with different ids', () => {
    const out = mergeResult([r('a', 'success', 'r1')], r('a', 'failure', 'r2'));
    expect(out).toHaveLength(2);
  });
});

describe('buildPlan', () => {
  const now = Date.parse('2026-12-03T09:00:00Z');
  it('builds each target shape', () => {
    expect(buildPlan('all', '', '', '', '', now).plan).toEqual({ target: { all: true } });
    expect(buildPlan('groups', 'canary, office', '', '30s', '', now).plan).toEqual({ target: { groups: ['canary', 'office'] }, jitter: '30s' });
    expect(buildPlan('pcs', '', 'pc-1 pc-2', '', '15m', now).plan).toEqual({
      target: { pcs: ['pc-1', 'pc-2'] },
      deadline_at: '2026-12-03T09:15:00Z',
    });
  });
  it('reports bad input per field', () => {
    const { plan, problems } = buildPlan('groups', ' ', '', 'soon', '-1m', now);
    expect(plan).toBeUndefined();
    expect(Object.keys(problems).sort()).toEqual(['deadline', 'groups', 'jitter']);
  });
});

describe('manifestId', () => {
  it('reads the top-level id', () => {
    expect(manifestId('version: 1\nid: "hello" # x\nexecute:\n  id: nope\n')).toBe('hello');
    expect(manifestId('{"id":"j1"}')).toBe('j1');
    expect(manifestId('version: 1\n')).toBeNull();
  });
});

describe('readHealth', () => {
  it('reads a nested layout', () => {
    const h = readHealth({
      status: 'ok',
      agents: { known: 10, online: 7, offline: 3, by_os: { linux: 6, windows: 4 } },
      broker: { status: 'connected' },
      projectors: { results: { lag: 0 } },
      results_24h: { success: 5 },
    });
    expect([h.known, h.online, h.offline]).toEqual([10, 7, 3]);
    expect(h.byOS).toEqual([
      ['linux', 6],
      ['windows', 4],
    ]);
    expect(h.components.map((c) => [c.name, c.ok])).toEqual([
      ['broker', true],
      ['projector results', true],
    ]);
  });
  it('reads a flat layout and derives offline', () => {
    const h = readHealth({ known: 5, online: 2 });
    expect(h.offline).toBe(3);
  });
  it('survives garbage', () => {
    expect(readHealth(null).known).toBe(0);
    expect(readHealth('x').online).toBe(0);
  });
});

describe('common', () => {
  it('lists group names from several layouts', () => {
    expect(groupNames({ b: ['pc'], a: [] })).toEqual(['a', 'b']);
    expect(groupNames({ items: [{ name: 'x' }, { group: 'y' }] })).toEqual(['x', 'y']);
    expect(groupNames(['z'])).toEqual(['z']);
    expect(groupNames(undefined)).toEqual([]);
  });
  it('describes when', () => {
    expect(whenText({ per_pc: 'once' })).toBe('per PC, once');
    expect(whenText({ per_target: { every: '6h' } })).toBe('per target, every 6h');
    expect(whenText({ calendar: { at: '09:00', days: ['mon-fri'] } })).toBe('at 09:00 on mon-fri');
    expect(whenText({ calendar: { at: '2027-01-05 09:00' } })).toBe('at 2027-01-05 09:00');
  });
  it('knows dormant windows', () => {
    const now = Date.parse('2026-12-03T09:00:00Z');
    const s = { id: 's', job_id: 'j', when: {}, target: {} };
    expect(isDormant({ ...s, active: { until: '2026-01-01T00:00:00Z' } }, now)).toBe(true);
    expect(isDormant({ ...s, active: { from: '2027-01-01T00:00:00Z' } }, now)).toBe(true);
    expect(isDormant({ ...s, active: { from: '2026-01-01T00:00:00Z', until: '2027-01-01T00:00:00Z' } }, now)).toBe(false);
    expect(isDormant({ ...s, dormant: true }, now)).toBe(true);
  });
});

describe('readHealth (kanade server layout)', () => {
  it('reads agents counts, broker, projector lag and results', () => {
    const h = readHealth({
      status: 'ok',
      agents: { known: 3, online: 2, offline: 1, results_24h: { success: 4, failure: 1 }, dead_letters: 0 },
      broker: { connected: true, status: 'CONNECTED' },
      projector: { lag: { RESULTS: 0, EVENTS: 2 }, total_lag: 2 },
    });
    expect([h.known, h.online, h.offline]).toEqual([3, 2, 1]);
    expect(h.results24h).toEqual([
      ['success', 4],
      ['failure', 1],
    ]);
    expect(h.components.map((c) => [c.name, c.ok])).toEqual([
      ['broker', true],
      ['projector', true],
    ]);
    expect(h.components[1].text).toContain('lag 2');
  });
  it('flags a disconnected broker and dead letters', () => {
    const h = readHealth({
      status: 'degraded',
      agents: { known: 0, online: 0, offline: 0, dead_letters: 2 },
      broker: { connected: false, status: 'RECONNECTING' },
      projector: { lag: {}, total_lag: 0, error: 'boom' },
    });
    expect(h.components.map((c) => [c.name, c.ok])).toEqual([
      ['broker', false],
      ['projector', false],
      ['dead letters', false],
    ]);
  });
});

import { mergeResults } from './executions';
describe('mergeResults', () => {
  it('applies a batch in order, latest wins', () => {
    const list = [r('a', 'pending'), r('b', 'pending'), r('c', 'success', 'rc')];
    const out = mergeResults(list, [r('a', 'running', 'ra'), r('a', 'success', 'ra'), r('b', 'failure', 'rb'), r('d', 'success', 'rd')]);
    expect(out.map((x) => `${x.pc_id}:${x.status}`)).toEqual(['a:success', 'b:failure', 'c:success', 'd:success']);
  });
  it('handles 10 000 rows quickly', () => {
    const list = Array.from({ length: 10000 }, (_, i) => r(`pc-${i}`, 'pending'));
    const batch = Array.from({ length: 10000 }, (_, i) => r(`pc-${i}`, 'success', `id-${i}`));
    const t0 = performance.now();
    const out = mergeResults(list, batch);
    expect(out).toHaveLength(10000);
    expect(out.every((x) => x.status === 'success')).toBe(true);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});

describe('mergeResults (server stream replays pending rows first)', () => {
  it('a replayed pending row then the real one leave one row', () => {
    const initial = [r('devbox', 'pending')];
    const a = mergeResults(initial, [r('devbox', 'pending')]);
    const b = mergeResults(a, [r('devbox', 'running', 'x1')]);
    const c = mergeResults(b, [r('devbox', 'failure', 'x1')]);
    expect(c.map((x) => `${x.pc_id}:${x.status}`)).toEqual(['devbox:failure']);
    // all in one batch too
    const d = mergeResults(initial, [r('devbox', 'pending'), r('devbox', 'running', 'x1'), r('devbox', 'success', 'x1')]);
    expect(d.map((x) => `${x.pc_id}:${x.status}`)).toEqual(['devbox:success']);
  });
});

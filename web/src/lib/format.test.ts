import { describe, expect, it } from 'vitest';
import { parseDuration, relativeTime, splitList, formatSeconds } from './format';
import { toYaml } from './toyaml';

const now = Date.parse('2026-12-03T09:00:00Z');

describe('relativeTime', () => {
  it('formats past and future', () => {
    expect(relativeTime('2026-12-03T09:00:00Z', now)).toBe('just now');
    expect(relativeTime('2026-12-03T08:59:18Z', now)).toBe('42s ago');
    expect(relativeTime('2026-12-03T08:55:00Z', now)).toBe('5m ago');
    expect(relativeTime('2026-12-03T06:00:00Z', now)).toBe('3h ago');
    expect(relativeTime('2026-12-01T09:00:00Z', now)).toBe('2d ago');
    expect(relativeTime('2026-12-03T09:04:00Z', now)).toBe('in 4m');
  });
  it('treats zero and empty as never', () => {
    expect(relativeTime('0001-01-01T00:00:00Z', now)).toBe('never');
    expect(relativeTime('', now)).toBe('never');
    expect(relativeTime(undefined, now)).toBe('never');
    expect(relativeTime('garbage', now)).toBe('never');
  });
});

describe('parseDuration', () => {
  it('parses go-style durations with days', () => {
    expect(parseDuration('30s')).toBe(30);
    expect(parseDuration('1h30m')).toBe(5400);
    expect(parseDuration('7d')).toBe(604800);
    expect(parseDuration('')).toBeNull();
    expect(parseDuration('10 minutes')).toBeNull();
    expect(parseDuration('5')).toBeNull();
  });
});

describe('misc', () => {
  it('splits lists', () => {
    expect(splitList(' a, b  c,,')).toEqual(['a', 'b', 'c']);
  });
  it('formats seconds', () => {
    expect(formatSeconds(1.25)).toBe('1.3s');
    expect(formatSeconds(125)).toBe('2m 05s');
    expect(formatSeconds(7300)).toBe('2h 01m');
  });
});

describe('toYaml', () => {
  it('emits manifests readably', () => {
    const y = toYaml({
      id: 'cleanup-temp',
      version: '1.0.3',
      execute: { shell: 'sh', script: 'echo hi\nexit 0\n', timeout: '10m', env: { LANG: 'C' } },
      target: { groups: ['canary', 'office'] },
      rollout: { waves: [{ group: 'a', delay: '5m' }, { group: 'b' }] },
      enabled: true,
      when: { calendar: { at: '09:00' } },
    });
    expect(y).toBe(`id: cleanup-temp
version: "1.0.3"
execute:
  shell: sh
  script: |
    echo hi
    exit 0
  timeout: 10m
  env:
    LANG: C
target:
  groups: [canary, office]
rollout:
  waves:
    - group: a
      delay: 5m
    - group: b
enabled: true
when:
  calendar:
    at: "09:00"
`);
  });
});

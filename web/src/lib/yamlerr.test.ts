import { describe, expect, it } from 'vitest';
import { findErrorLine, splitPath } from './yamlerr';

const job = `id: cleanup-temp
version: "1.0.3"
description: Remove temp files
execute:
  shell: sh
  scirpt: |
    find /tmp -type f -mtime +7 -delete
  timeout: 10m
  env: { LANG: C }
`;

const sched = `id: nightly
job_id: cleanup-temp
when:
  calendar:
    at: "09:00"
    days:
      - mon
      - funday
target:
  groups: [canary, office]
rollout:
  waves:
    - group: canary
      delay: 5m
    - group: office
      min_sucess: 95%
`;

describe('splitPath', () => {
  it('splits dots and brackets', () => {
    expect(splitPath('execute.scirpt')).toEqual(['execute', 'scirpt']);
    expect(splitPath('rollout.waves[1].min_sucess')).toEqual(['rollout', 'waves', '1', 'min_sucess']);
    expect(splitPath('$.id')).toEqual(['id']);
  });
});

describe('findErrorLine', () => {
  it('finds a nested unknown key', () => {
    expect(findErrorLine(job, 'execute.scirpt')).toBe(6);
    expect(findErrorLine(job, 'execute.timeout')).toBe(8);
    expect(findErrorLine(job, 'version')).toBe(2);
  });
  it('does not confuse a key at another depth', () => {
    const doc = `id: x\nexecute:\n  id: y\n`;
    expect(findErrorLine(doc, 'execute.id')).toBe(3);
    expect(findErrorLine(doc, 'id')).toBe(1);
  });
  it('finds keys in flow mappings', () => {
    expect(findErrorLine(job, 'execute.env.LANG')).toBe(9);
  });
  it('walks sequences by index', () => {
    expect(findErrorLine(sched, 'when.calendar.days[1]')).toBe(8);
    expect(findErrorLine(sched, 'when.calendar.days.0')).toBe(7);
    expect(findErrorLine(sched, 'rollout.waves[1].min_sucess')).toBe(16);
    expect(findErrorLine(sched, 'rollout.waves.0.delay')).toBe(14);
  });
  it('falls back to the deepest line it found', () => {
    expect(findErrorLine(sched, 'target.groups[1]')).toBe(10);
    expect(findErrorLine(job, 'execute.cwd')).toBe(4);
  });
  it('falls back to any line with the last key', () => {
    expect(findErrorLine(job, 'job.execute.shell')).toBe(5);
  });
  it('uses "line N" of parser messages', () => {
    expect(findErrorLine(job, '', 'yaml: line 3: mapping values are not allowed')).toBe(3);
    expect(findErrorLine(job, '', 'no line here')).toBeNull();
  });
  it('reads pretty JSON', () => {
    const doc = `{\n  "id": "x",\n  "execute": {\n    "scirpt": "echo"\n  }\n}\n`;
    expect(findErrorLine(doc, 'execute.scirpt')).toBe(4);
  });
  it('returns null for nothing', () => {
    expect(findErrorLine('', 'a.b')).toBeNull();
    expect(findErrorLine(job, 'nope')).toBeNull();
  });
});

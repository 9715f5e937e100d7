// JSON shapes served by the kanade API. They mirror internal/store/types.go
// and internal/manifest/types.go; fields the dashboard does not rely on are
// optional so an older/newer server does not break a page.

export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

export interface Agent {
  pc_id: string;
  hostname: string;
  os: string;
  arch: string;
  agent_version: string;
  boot_time?: string;
  agent_rss_bytes?: number;
  agent_cpu_pct?: number;
  first_seen?: string;
  last_heartbeat: string;
  online: boolean;
  groups: string[] | null;
}

export type ExecStatus = 'pending' | 'running' | 'completed' | 'expired' | string;

export interface Target {
  all?: boolean;
  groups?: string[];
  pcs?: string[];
}

export interface Execution {
  exec_id: string;
  job_id: string;
  version: string;
  initiated_by: string;
  initiated_at: string;
  target?: Target | null;
  subjects?: string[] | null;
  target_count: number;
  running: number;
  succeeded: number;
  failed: number;
  skipped: number;
  lost: number;
  status: ExecStatus;
  deadline_at?: string;
  finished_at?: string;
}

export type ResultStatus = 'running' | 'success' | 'failure' | 'skipped' | 'lost' | 'pending' | string;

export interface Result {
  result_id: string;
  request_id?: string;
  exec_id: string;
  job_id: string;
  version?: string;
  pc_id: string;
  status: ResultStatus;
  exit_code?: number;
  skip_reason?: string;
  timed_out?: boolean;
  killed?: boolean;
  stdout?: string;
  stderr?: string;
  stdout_truncated?: boolean;
  stderr_truncated?: boolean;
  started_at?: string;
  finished_at?: string;
  recorded_at?: string;
}

export interface ExecutionDetail {
  execution: Execution;
  results: Result[] | null;
}

export interface ExecAnswer {
  exec_id: string;
  job_id: string;
  version: string;
  target_count: number;
  subjects: string[];
}

export interface AuditEntry {
  seq: number;
  actor: string;
  action: string;
  target: string;
  payload?: unknown;
  occurred_at: string;
  recorded_at?: string;
}

export interface Tick {
  schedule_id: string;
  tick_at: string;
  action: string;
  reason?: string;
  expected: number;
  armed: number;
  suppressed: number;
  fired: number;
  exec_id?: string;
}

export interface Job {
  id: string;
  version: string;
  description?: string;
  execute: {
    shell: string;
    script: string;
    timeout: string;
    cwd?: string;
    env?: Record<string, string>;
  };
}

export type Repeat = 'once' | { every: string };

export interface When {
  per_pc?: Repeat;
  per_target?: Repeat;
  calendar?: { at: string; days?: string[] };
}

export interface Schedule {
  id: string;
  job_id: string;
  when: When;
  target: Target;
  rollout?: { waves: { group: string; delay?: string; min_success?: string }[] };
  jitter?: string;
  tz?: string;
  active?: { from?: string; until?: string };
  starting_deadline?: string;
  runs_on?: string;
  enabled?: boolean | null;
}

export interface Coverage {
  ok: number;
  failed: number;
  running: number;
  pending: number;
}

export interface ScheduleItem extends Schedule {
  next_fire?: string | null;
  mode?: string;
  coverage?: Coverage | null;
  dormant?: boolean;
}

export interface FieldError {
  path: string;
  message: string;
}

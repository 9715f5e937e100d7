-- 0001: the projection (SPEC §4.1). Every statement is IF NOT EXISTS so a
-- Reset (drop projection tables, re-run all migrations) can replay it.

-- One random id per projection instance. Projector consumer names embed it,
-- so a wiped or rebuilt database replays the streams from the start and two
-- server replicas never share a consumer.
CREATE TABLE IF NOT EXISTS projection_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO projection_meta(key, value)
VALUES ('instance', lower(hex(randomblob(8))));

CREATE TABLE IF NOT EXISTS agents (
    pc_id          TEXT PRIMARY KEY,
    hostname       TEXT NOT NULL DEFAULT '',
    os             TEXT NOT NULL DEFAULT '',
    arch           TEXT NOT NULL DEFAULT '',
    agent_version  TEXT NOT NULL DEFAULT '',
    boot_time      TEXT NOT NULL DEFAULT '',
    rss_bytes      INTEGER NOT NULL DEFAULT 0,
    cpu_pct        REAL NOT NULL DEFAULT 0,
    first_seen     TEXT NOT NULL,
    last_heartbeat TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS agents_last_heartbeat ON agents(last_heartbeat);
CREATE INDEX IF NOT EXISTS agents_os ON agents(os, pc_id);
CREATE INDEX IF NOT EXISTS agents_hostname ON agents(hostname);

CREATE TABLE IF NOT EXISTS agent_groups (
    pc_id TEXT NOT NULL,
    grp   TEXT NOT NULL,
    PRIMARY KEY (pc_id, grp)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS agent_groups_grp ON agent_groups(grp, pc_id);

CREATE TABLE IF NOT EXISTS executions (
    exec_id      TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL,
    version      TEXT NOT NULL DEFAULT '',
    initiated_by TEXT NOT NULL DEFAULT '',
    initiated_at TEXT NOT NULL,
    target       TEXT,
    subjects     TEXT NOT NULL DEFAULT '[]',
    target_count INTEGER NOT NULL DEFAULT 0,
    running      INTEGER NOT NULL DEFAULT 0,
    succeeded    INTEGER NOT NULL DEFAULT 0,
    failed       INTEGER NOT NULL DEFAULT 0,
    skipped      INTEGER NOT NULL DEFAULT 0,
    lost         INTEGER NOT NULL DEFAULT 0,
    status       TEXT NOT NULL DEFAULT 'pending',
    deadline_at  TEXT,
    finished_at  TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS executions_initiated ON executions(initiated_at);
CREATE INDEX IF NOT EXISTS executions_job ON executions(job_id, initiated_at);
CREATE INDEX IF NOT EXISTS executions_status ON executions(status, initiated_at);
CREATE INDEX IF NOT EXISTS executions_initiator ON executions(initiated_by, initiated_at);

CREATE TABLE IF NOT EXISTS execution_targets (
    exec_id TEXT NOT NULL,
    pc_id   TEXT NOT NULL,
    PRIMARY KEY (exec_id, pc_id)
) WITHOUT ROWID;

-- status: running | success | failure | skipped | lost.
-- lost_after is started_at + timeout + max(2 min, timeout/2), computed by
-- the projector, so the reaper is one indexed range scan.
CREATE TABLE IF NOT EXISTS execution_results (
    result_id        TEXT PRIMARY KEY,
    request_id       TEXT NOT NULL DEFAULT '',
    exec_id          TEXT NOT NULL,
    job_id           TEXT NOT NULL,
    version          TEXT NOT NULL DEFAULT '',
    pc_id            TEXT NOT NULL,
    status           TEXT NOT NULL,
    exit_code        INTEGER,
    skip_reason      TEXT NOT NULL DEFAULT '',
    timed_out        INTEGER NOT NULL DEFAULT 0,
    killed           INTEGER NOT NULL DEFAULT 0,
    stdout           TEXT NOT NULL DEFAULT '',
    stderr           TEXT NOT NULL DEFAULT '',
    stdout_truncated INTEGER NOT NULL DEFAULT 0,
    stderr_truncated INTEGER NOT NULL DEFAULT 0,
    started_at       TEXT,
    finished_at      TEXT,
    recorded_at      TEXT NOT NULL,
    timeout_secs     INTEGER,
    lost_after       TEXT
);
CREATE INDEX IF NOT EXISTS results_exec_pc ON execution_results(exec_id, pc_id);
CREATE INDEX IF NOT EXISTS results_pc ON execution_results(pc_id, recorded_at);
CREATE INDEX IF NOT EXISTS results_job ON execution_results(job_id, recorded_at);
CREATE INDEX IF NOT EXISTS results_recorded ON execution_results(recorded_at);
CREATE INDEX IF NOT EXISTS results_status ON execution_results(status, recorded_at);
CREATE INDEX IF NOT EXISTS results_completions ON execution_results(job_id, pc_id, finished_at)
    WHERE status = 'success';
CREATE INDEX IF NOT EXISTS results_running ON execution_results(lost_after)
    WHERE status = 'running';

CREATE TABLE IF NOT EXISTS audit_log (
    seq         INTEGER PRIMARY KEY,
    actor       TEXT NOT NULL DEFAULT '',
    action      TEXT NOT NULL DEFAULT '',
    target      TEXT NOT NULL DEFAULT '',
    payload     TEXT,
    occurred_at TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_action ON audit_log(action, seq);
CREATE INDEX IF NOT EXISTS audit_actor ON audit_log(actor, seq);
CREATE INDEX IF NOT EXISTS audit_target ON audit_log(target, seq);
CREATE INDEX IF NOT EXISTS audit_occurred ON audit_log(occurred_at);

CREATE TABLE IF NOT EXISTS inventory (
    pc_id        TEXT PRIMARY KEY,
    collected_at TEXT NOT NULL,
    facts        TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
) WITHOUT ROWID;

-- The scheduler's decision log is not rebuildable from a stream; Reset
-- keeps it.
CREATE TABLE IF NOT EXISTS schedule_ticks (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id TEXT NOT NULL,
    tick_at     TEXT NOT NULL,
    action      TEXT NOT NULL,
    reason      TEXT NOT NULL DEFAULT '',
    expected    INTEGER NOT NULL DEFAULT 0,
    armed       INTEGER NOT NULL DEFAULT 0,
    suppressed  INTEGER NOT NULL DEFAULT 0,
    fired       INTEGER NOT NULL DEFAULT 0,
    exec_id     TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS ticks_schedule ON schedule_ticks(schedule_id, id);

CREATE TABLE IF NOT EXISTS dead_letters (
    stream      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    subject     TEXT NOT NULL,
    error       TEXT NOT NULL,
    data        BLOB,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dead_letters_recorded ON dead_letters(recorded_at);

// A throwaway stand-in for the kanade API, for working on the dashboard
// without a backend and for screenshots. NOT the contract: the Go server is.
//
//   node dev/mock-api.mjs [port]          # serves ../internal/web/dist + /api
//   MOCK_TOKEN=secret node dev/mock-api.mjs   # require a bearer token
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';

const port = Number(process.argv[2] ?? process.env.PORT ?? 8099);
const dist = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../internal/web/dist');
const TOKEN = process.env.MOCK_TOKEN ?? '';
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const ago = (s) => new Date(Date.now() - s * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');

const OSES = ['linux', 'windows', 'darwin'];
const GROUPS = ['canary', 'office', 'lab', 'kiosk'];
const N_AGENTS = Number(process.env.MOCK_AGENTS ?? 137);
const groupsOf = {};
const agents = Array.from({ length: N_AGENTS }, (_, i) => {
  const id = `pc-${String(i + 1).padStart(3, '0')}`;
  const online = i % 7 !== 3;
  groupsOf[id] = [GROUPS[i % 4], ...(i % 10 === 0 ? ['canary'] : [])].filter((g, j, a) => a.indexOf(g) === j);
  return {
    pc_id: id,
    hostname: `${id}.corp.example`,
    os: OSES[i % 3],
    arch: i % 5 === 0 ? 'arm64' : 'amd64',
    agent_version: i % 9 === 0 ? '0.9.1' : '1.0.0',
    boot_time: ago(86400 * (1 + (i % 5))),
    agent_rss_bytes: 18_000_000 + i * 1000,
    agent_cpu_pct: 0.3,
    first_seen: ago(86400 * 30),
    last_heartbeat: online ? ago(i % 30) : ago(3600 * (1 + (i % 48))),
    online,
  };
});
const agentOut = (a) => ({ ...a, groups: groupsOf[a.pc_id] ?? [] });

const jobs = new Map([
  ['cleanup-temp', { id: 'cleanup-temp', version: '1.0.3', description: 'Remove temp files older than 7 days', execute: { shell: 'sh', script: 'find /tmp -type f -mtime +7 -delete\n', timeout: '10m' } }],
  ['inventory-report', { id: 'inventory-report', version: '2', description: 'Collect installed packages', execute: { shell: 'bash', script: 'dpkg -l | wc -l\n', timeout: '2m' } }],
]);
const schedules = new Map([
  ['nightly-cleanup', { id: 'nightly-cleanup', job_id: 'cleanup-temp', when: { per_pc: { every: '24h' } }, target: { groups: ['canary', 'office'] }, jitter: '5m', tz: 'Asia/Tokyo', enabled: true }],
  ['weekday-report', { id: 'weekday-report', job_id: 'inventory-report', when: { calendar: { at: '09:00', days: ['mon-fri'] } }, target: { all: true }, enabled: true }],
  ['old-migration', { id: 'old-migration', job_id: 'cleanup-temp', when: { per_target: 'once' }, target: { pcs: ['pc-001'] }, active: { from: '2025-01-01', until: '2025-02-01' }, enabled: false }],
]);
const executions = new Map();
const results = new Map(); // exec_id -> Map(pc -> result)
const audit = [];
const addAudit = (actor, action, target, payload) => audit.unshift({ seq: audit.length + 1, actor, action, target, payload, occurred_at: now(), recorded_at: now() });
addAudit('admin', 'job.apply', 'cleanup-temp', { version: '1.0.3' });
addAudit('admin', 'schedule.apply', 'nightly-cleanup', null);

function resolveTarget(t) {
  const set = new Set();
  if (t.all) agents.filter((a) => a.online).forEach((a) => set.add(a.pc_id));
  for (const g of t.groups ?? []) agents.filter((a) => a.online && groupsOf[a.pc_id]?.includes(g)).forEach((a) => set.add(a.pc_id));
  for (const p of t.pcs ?? []) set.add(p);
  return [...set];
}

function startExec(job, plan, actor) {
  const pcs = resolveTarget(plan.target ?? {});
  const e = {
    exec_id: randomUUID(), job_id: job.id, version: job.version, initiated_by: actor, initiated_at: now(),
    target: plan.target, subjects: plan.target?.all ? ['commands.all'] : [...(plan.target?.groups ?? []).map((g) => `commands.group.${g}`), ...(plan.target?.pcs ?? []).map((p) => `commands.pc.${p}`)],
    target_count: pcs.length, running: 0, succeeded: 0, failed: 0, skipped: 0, lost: 0, status: pcs.length ? 'running' : 'completed',
    deadline_at: plan.deadline_at,
  };
  executions.set(e.exec_id, e);
  const rs = new Map();
  results.set(e.exec_id, rs);
  e.listeners = new Set();
  pcs.forEach((pc, i) => {
    const rid = randomUUID();
    setTimeout(() => {
      if (e.status !== 'running') return;
      const r = { result_id: rid, exec_id: e.exec_id, job_id: job.id, version: job.version, pc_id: pc, status: 'running', started_at: now(), recorded_at: now(), stdout: '', stderr: '' };
      rs.set(pc, r);
      e.running++;
      emit(e, 'result', r);
      emit(e, 'execution', e);
      setTimeout(() => {
        const fail = pc.endsWith('7');
        Object.assign(r, { status: fail ? 'failure' : 'success', exit_code: fail ? 2 : 0, finished_at: now(), stdout: `hello from ${pc}\nLinux ${pc} 6.1.0 x86_64\n`, stderr: fail ? 'find: /tmp/x: Permission denied\n' : '' });
        e.running--;
        fail ? e.failed++ : e.succeeded++;
        if (e.succeeded + e.failed + e.skipped + e.lost >= e.target_count) { e.status = 'completed'; e.finished_at = now(); }
        emit(e, 'result', r);
        emit(e, 'execution', e);
        if (e.status === 'completed') emit(e, 'done', {});
      }, 400 + (i % 5) * 300);
    }, 200 + i * 60);
  });
  addAudit(actor, 'exec', job.id, { exec_id: e.exec_id, target: plan.target });
  return e;
}
function emit(e, ev, data) {
  for (const res of e.listeners) res.write(`event: ${ev}\ndata: ${JSON.stringify(strip(data))}\n\n`);
}
const strip = (e) => { if (!e || !e.listeners) return e; const { listeners, ...rest } = e; return rest; };
startExec(jobs.get('cleanup-temp'), { target: { groups: ['canary'] } }, 'admin');

function page(items, q) {
  const limit = Math.min(500, Number(q.get('limit') ?? 50) || 50);
  const offset = Number(q.get('offset') ?? 0) || 0;
  return { items: items.slice(offset, offset + limit), total: items.length, limit, offset };
}

// Very small YAML-ish key checker, enough to demo field errors.
const JOB_KEYS = { '': ['id', 'version', 'description', 'execute'], execute: ['shell', 'script', 'timeout', 'cwd', 'env'] };
const SCHED_KEYS = { '': ['id', 'job_id', 'when', 'target', 'rollout', 'jitter', 'tz', 'active', 'starting_deadline', 'runs_on', 'enabled'] };
function checkYaml(text, allowed, required) {
  const fields = [];
  const top = {};
  let parent = '';
  let inBlock = false;
  for (const line of text.split('\n')) {
    if (!line.trim() || line.trim().startsWith('#')) continue;
    const m = /^(\s*)([A-Za-z_][\w-]*)\s*:\s*(.*)$/.exec(line);
    const indent = line.length - line.trimStart().length;
    if (inBlock && indent > 2) continue;
    inBlock = false;
    if (!m) continue;
    if (indent === 0) {
      parent = m[2];
      top[m[2]] = m[3].replace(/^["']|["']$/g, '');
      if (!allowed[''].includes(m[2])) fields.push({ path: m[2], message: 'unknown field' });
    } else if (indent === 2 && allowed[parent]) {
      top[`${parent}.${m[2]}`] = m[3];
      if (!allowed[parent].includes(m[2])) fields.push({ path: `${parent}.${m[2]}`, message: 'unknown field' });
      if (m[3].startsWith('|')) inBlock = true;
    }
  }
  for (const r of required) if (top[r] === undefined || top[r] === '') fields.push({ path: r, message: 'required' });
  return { fields, top };
}

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}
const readBody = (req) => new Promise((ok) => { let b = ''; req.on('data', (c) => (b += c)); req.on('end', () => ok(b)); });

async function api(req, res, url) {
  const q = url.searchParams;
  if (TOKEN) {
    const auth = req.headers.authorization ?? '';
    if (auth !== `Bearer ${TOKEN}` && q.get('access_token') !== TOKEN) return send(res, 401, { error: 'missing or bad token' });
  }
  const p = url.pathname;
  let m;
  if (p === '/api/whoami' && process.env.MOCK_ROLE) return send(res, 200, { name: 'mock', role: process.env.MOCK_ROLE });
  if (p === '/api/health') {
    const online = agents.filter((a) => a.online).length;
    const by = (k) => agents.reduce((o, a) => ((o[a[k]] = (o[a[k]] ?? 0) + 1), o), {});
    return send(res, 200, { status: 'ok', agents: { known: agents.length, online, offline: agents.length - online, by_os: by('os'), by_version: by('agent_version') }, broker: { status: 'connected' }, projectors: { results: { lag: 0 }, audit: { lag: 2 }, heartbeats: { lag: 0 } }, results_24h: { success: 912, failure: 17, skipped: 3 } });
  }
  if (p === '/api/agents') {
    let list = agents.map(agentOut);
    const text = q.get('q');
    if (text) list = list.filter((a) => a.pc_id.includes(text) || a.hostname.includes(text));
    if (q.get('group')) list = list.filter((a) => a.groups.includes(q.get('group')));
    if (q.get('status')) list = list.filter((a) => (q.get('status') === 'online') === a.online);
    if (q.get('os')) list = list.filter((a) => a.os === q.get('os'));
    return send(res, 200, page(list, q));
  }
  if ((m = /^\/api\/agents\/([^/]+)\/groups$/.exec(p)) && req.method === 'PUT') {
    const body = JSON.parse((await readBody(req)) || '{}');
    const bad = (body.groups ?? []).map((g, i) => [g, i]).filter(([g]) => !/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(g));
    if (bad.length) return send(res, 400, { error: 'invalid group name', fields: bad.map(([g, i]) => ({ path: `groups[${i}]`, message: `invalid name ${JSON.stringify(g)}` })) });
    groupsOf[decodeURIComponent(m[1])] = body.groups;
    addAudit('admin', 'groups.set', decodeURIComponent(m[1]), body);
    return send(res, 200, { groups: body.groups });
  }
  if ((m = /^\/api\/agents\/([^/]+)\/effective-config$/.exec(p))) return send(res, 200, { heartbeat_interval: { value: '30s', source: 'built-in' }, inventory_interval: { value: '24h', source: 'global' } });
  if ((m = /^\/api\/agents\/([^/]+)$/.exec(p))) {
    const a = agents.find((x) => x.pc_id === decodeURIComponent(m[1]));
    return a ? send(res, 200, agentOut(a)) : send(res, 404, { error: 'agent not found' });
  }
  if ((m = /^\/api\/inventory\/([^/]+)$/.exec(p))) return send(res, 200, { pc_id: decodeURIComponent(m[1]), collected_at: ago(3600), facts: { os: { name: 'Debian', version: '12' }, cpu: { model: 'Intel Xeon', cores: 8 }, memory_bytes: 17179869184 } });
  if (p === '/api/groups') return send(res, 200, GROUPS.reduce((o, g) => ((o[g] = agents.filter((a) => groupsOf[a.pc_id]?.includes(g)).map((a) => a.pc_id)), o), {}));
  if (p === '/api/jobs' && req.method === 'GET') return send(res, 200, page([...jobs.values()], q));
  if ((p === '/api/jobs' || p === '/api/jobs/validate') && req.method === 'POST') {
    const text = await readBody(req);
    const { fields, top } = checkYaml(text, JOB_KEYS, ['id', 'version', 'execute.shell', 'execute.timeout']);
    if (fields.length) return send(res, 400, { error: 'invalid job', fields });
    if (p.endsWith('validate')) return send(res, 200, { ok: true });
    const job = { id: top.id, version: top.version, description: top.description, execute: { shell: top['execute.shell'], script: 'echo hi\n', timeout: top['execute.timeout'] } };
    jobs.set(job.id, { ...job, _yaml: text });
    addAudit('admin', 'job.apply', job.id, { version: job.version });
    return send(res, 200, job);
  }
  if ((m = /^\/api\/jobs\/([^/]+)$/.exec(p))) {
    const j = jobs.get(decodeURIComponent(m[1]));
    if (!j) return send(res, 404, { error: 'job not found' });
    if (req.method === 'DELETE') {
      const users = [...schedules.values()].filter((s) => s.job_id === j.id).map((s) => s.id);
      if (users.length) return send(res, 409, { error: `job is used by schedules: ${users.join(', ')}` });
      jobs.delete(j.id);
      return send(res, 200, { deleted: j.id });
    }
    const { _yaml, ...clean } = j;
    if (q.get('format') === 'yaml') return send(res, 200, _yaml ?? `id: ${j.id}\nversion: "${j.version}"\ndescription: ${j.description}\nexecute:\n  shell: ${j.execute.shell}\n  script: |\n    ${j.execute.script.trim()}\n  timeout: ${j.execute.timeout}\n`, 'application/yaml');
    return send(res, 200, clean);
  }
  if ((m = /^\/api\/exec\/([^/]+)$/.exec(p)) && req.method === 'POST') {
    const j = jobs.get(decodeURIComponent(m[1]));
    if (!j) return send(res, 404, { error: 'job not found' });
    const plan = JSON.parse((await readBody(req)) || '{}');
    if (!plan.target || (!plan.target.all && !plan.target.groups?.length && !plan.target.pcs?.length)) return send(res, 400, { error: 'invalid plan', fields: [{ path: 'target', message: 'name all, groups or pcs' }] });
    const e = startExec(j, plan, 'admin');
    return send(res, 200, { exec_id: e.exec_id, job_id: e.job_id, version: e.version, target_count: e.target_count, subjects: e.subjects });
  }
  if (p === '/api/executions') return send(res, 200, page([...executions.values()].reverse().map(strip), q));
  if ((m = /^\/api\/executions\/([^/]+)\/stream$/.exec(p))) {
    const e = executions.get(m[1]);
    if (!e) return send(res, 404, { error: 'not found' });
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`event: execution\ndata: ${JSON.stringify(strip(e))}\n\n`);
    if (e.status === 'completed') { res.write('event: done\ndata: {}\n\n'); return res.end(); }
    e.listeners.add(res);
    req.on('close', () => e.listeners.delete(res));
    return;
  }
  if ((m = /^\/api\/executions\/([^/]+)\/kill$/.exec(p))) {
    const e = executions.get(m[1]);
    if (!e) return send(res, 404, { error: 'not found' });
    addAudit('admin', 'kill', e.exec_id, null);
    return send(res, 202, { exec_id: e.exec_id });
  }
  if ((m = /^\/api\/executions\/([^/]+)$/.exec(p))) {
    const e = executions.get(m[1]);
    if (!e) return send(res, 404, { error: 'execution not found' });
    const rs = results.get(e.exec_id);
    const pcs = resolveTarget(e.target ?? {});
    const list = pcs.map((pc) => rs.get(pc) ?? { result_id: '', exec_id: e.exec_id, job_id: e.job_id, pc_id: pc, status: 'pending' });
    return send(res, 200, { execution: strip(e), results: list.map((r) => ({ ...r, stdout: (r.stdout ?? '').slice(0, 100) })) });
  }
  if (p === '/api/results') {
    let all = [...results.values()].flatMap((m2) => [...m2.values()]);
    if (q.get('pc')) all = all.filter((r) => r.pc_id === q.get('pc'));
    return send(res, 200, page(all.reverse(), q));
  }
  if ((m = /^\/api\/results\/([^/]+)$/.exec(p))) {
    for (const rs of results.values()) for (const r of rs.values()) if (r.result_id === m[1]) return send(res, 200, r);
    return send(res, 404, { error: 'result not found' });
  }
  if (p === '/api/schedules' && req.method === 'GET') {
    return send(res, 200, page([...schedules.values()].map((s) => ({ ...s, next_fire: s.when.calendar ? new Date(Date.now() + 5 * 3600e3).toISOString() : new Date(Date.now() + 45e3).toISOString(), mode: s.when.calendar ? 'every_tick' : s.when.per_pc ? 'once_per_pc' : 'once_per_target', coverage: { ok: 40, failed: s.id === 'nightly-cleanup' ? 3 : 0, running: 2, pending: 12 } })), q));
  }
  if (p === '/api/schedules' && req.method === 'POST') {
    const text = await readBody(req);
    const { fields, top } = checkYaml(text, SCHED_KEYS, ['id', 'job_id', 'when', 'target']);
    if (top.job_id && !jobs.has(top.job_id)) fields.push({ path: 'job_id', message: `job "${top.job_id}" does not exist` });
    if (fields.length) return send(res, 400, { error: 'invalid schedule', fields });
    schedules.set(top.id, { id: top.id, job_id: top.job_id, when: { per_pc: 'once' }, target: { all: true }, enabled: true });
    return send(res, 200, schedules.get(top.id));
  }
  if ((m = /^\/api\/schedules\/([^/]+)\/(enable|disable)$/.exec(p))) {
    const s = schedules.get(decodeURIComponent(m[1]));
    if (!s) return send(res, 404, { error: 'not found' });
    s.enabled = m[2] === 'enable';
    addAudit('admin', `schedule.${m[2]}`, s.id, null);
    return send(res, 200, s);
  }
  if ((m = /^\/api\/schedules\/([^/]+)\/preview$/.exec(p))) {
    const n = Number(q.get('count') ?? 5);
    return send(res, 200, { next: Array.from({ length: n }, (_, i) => new Date(Date.now() + (i + 1) * 86400e3).toISOString()), would_fire: { action: 'fired_pcs', reason: '', expected: 41, armed: 3, pcs: ['pc-004', 'pc-017', 'pc-023'] } });
  }
  if ((m = /^\/api\/schedules\/([^/]+)\/ticks$/.exec(p))) {
    const id = decodeURIComponent(m[1]);
    const items = Array.from({ length: 12 }, (_, i) => ({ schedule_id: id, tick_at: ago(60 * i), action: i % 4 === 0 ? 'fired_pcs' : 'skipped', reason: i % 4 === 0 ? '' : i % 4 === 1 ? 'in_flight' : 'all_done', expected: 41, armed: i % 4 === 0 ? 3 : 0, suppressed: i % 4 === 1 ? 3 : 0, fired: i % 4 === 0 ? 3 : 0, exec_id: i % 4 === 0 ? [...executions.keys()][0] : undefined }));
    return send(res, 200, page(items, q));
  }
  if ((m = /^\/api\/schedules\/([^/]+)\/coverage$/.exec(p))) return send(res, 200, { items: agents.slice(0, 30).map((a, i) => ({ pc_id: a.pc_id, status: ['ok', 'ok', 'ok', 'failed', 'running', 'pending'][i % 6] })) });
  if ((m = /^\/api\/schedules\/([^/]+)$/.exec(p))) {
    const s = schedules.get(decodeURIComponent(m[1]));
    if (!s) return send(res, 404, { error: 'schedule not found' });
    if (req.method === 'DELETE') { schedules.delete(s.id); return send(res, 200, {}); }
    return send(res, 200, s);
  }
  if (p === '/api/audit') {
    let list = audit;
    for (const k of ['actor', 'action', 'target']) if (q.get(k)) list = list.filter((a) => a[k].includes(q.get(k)));
    return send(res, 200, page(list, q));
  }
  return send(res, 404, { error: 'not found' });
}

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
http
  .createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname.startsWith('/api/')) return api(req, res, url).catch((e) => send(res, 500, { error: String(e) }));
    let f = path.join(dist, path.normalize(url.pathname));
    if (!f.startsWith(dist) || !fs.existsSync(f) || fs.statSync(f).isDirectory()) {
      if (url.pathname.startsWith('/assets/')) return send(res, 404, 'not found', 'text/plain');
      f = path.join(dist, 'index.html');
    }
    res.writeHead(200, { 'Content-Type': TYPES[path.extname(f)] ?? 'application/octet-stream' });
    fs.createReadStream(f).pipe(res);
  })
  .listen(port, '127.0.0.1', () => console.log(`mock kanade API + dashboard on http://127.0.0.1:${port}${TOKEN ? ' (token required)' : ''}`));

// A small JSON → YAML emitter for showing stored manifests in the editor.
// It covers what manifests contain: maps, lists, strings, numbers, bools.

const PLAIN = /^[A-Za-z0-9_./][A-Za-z0-9_ ./:+@-]*$/;
const RESERVED = /^(true|false|yes|no|on|off|null|~|y|n)$/i;

function scalar(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  const s = String(v);
  if (
    s !== '' &&
    PLAIN.test(s) &&
    !RESERVED.test(s) &&
    !/^[\d.+-]+$/.test(s) &&
    !s.includes(':') &&
    !/\s$/.test(s) &&
    !/^\d{4}-\d\d-\d\d/.test(s)
  ) {
    return s;
  }
  return JSON.stringify(s);
}

function key(k: string): string {
  return PLAIN.test(k) && !RESERVED.test(k) && !k.includes(': ') ? k : JSON.stringify(k);
}

function isEmptyish(v: unknown): boolean {
  return v === undefined;
}

function emit(v: unknown, indent: string, out: string[], prefix: string): void {
  if (Array.isArray(v)) {
    if (v.length === 0) {
      out.push(`${prefix} []`);
      return;
    }
    if (v.every((x) => x === null || typeof x !== 'object') && v.join(', ').length < 60) {
      out.push(`${prefix} [${v.map(scalar).join(', ')}]`);
      return;
    }
    out.push(prefix);
    const ii = indent + '  ';
    for (const item of v) {
      if (item && typeof item === 'object' && !Array.isArray(item)) {
        const sub: string[] = [];
        emitMap(item as Record<string, unknown>, ii + '  ', sub);
        if (sub.length === 0) out.push(`${ii}- {}`);
        else {
          sub[0] = `${ii}- ${sub[0].slice(ii.length + 2)}`;
          out.push(...sub);
        }
      } else {
        emit(item, ii + '  ', out, `${ii}-`);
      }
    }
    return;
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => !isEmptyish(x));
    if (entries.length === 0) {
      out.push(`${prefix} {}`);
      return;
    }
    out.push(prefix);
    emitMap(v as Record<string, unknown>, indent + '  ', out);
    return;
  }
  if (typeof v === 'string' && v.includes('\n')) {
    const chomp = v.endsWith('\n') ? (/\n\n+$/.test(v) ? '+' : '') : '-';
    const body = v.endsWith('\n') ? v.replace(/\n+$/, '') : v;
    out.push(`${prefix} |${chomp}`);
    for (const line of body.split('\n')) out.push(line === '' ? '' : `${indent}  ${line}`);
    return;
  }
  out.push(`${prefix} ${scalar(v)}`);
}

function emitMap(m: Record<string, unknown>, indent: string, out: string[]): void {
  for (const [k, v] of Object.entries(m)) {
    if (isEmptyish(v)) continue;
    emit(v, indent, out, `${indent}${key(k)}:`);
  }
}

export function toYaml(doc: Record<string, unknown>): string {
  const out: string[] = [];
  emitMap(doc, '', out);
  return out.join('\n') + '\n';
}

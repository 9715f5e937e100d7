// Locate the line of a YAML (or pretty-printed JSON) document that a
// server-side validation error points at, e.g. path "execute.scirpt".
// Pure and forgiving: it never throws and returns null when unsure.

interface Line {
  no: number; // 1-based
  indent: number; // column of the first non-blank char
  dash: boolean; // a sequence item ("- ...")
  keyIndent: number; // column of the key (after "- " for items)
  key: string | null;
  blank: boolean; // empty or comment-only
  text: string;
}

const KEY_RE = /^("((?:[^"\\]|\\.)*)"|'([^']*)'|([^\s#'"{[\]},:&*!|>%@`-][^:#]*?|-[^\s:#][^:#]*?))\s*:(\s|$)/;

function scan(doc: string): Line[] {
  return doc.split(/\r?\n/).map((text, i) => {
    const indent = text.length - text.trimStart().length;
    let rest = text.slice(indent);
    const blank = rest === '' || rest.startsWith('#');
    let dash = false;
    let keyIndent = indent;
    if (/^-(\s|$)/.test(rest)) {
      dash = true;
      const after = rest.slice(1);
      const pad = after.length - after.trimStart().length;
      keyIndent = indent + 1 + pad;
      rest = after.trimStart();
    }
    const m = KEY_RE.exec(rest);
    const key = m ? (m[2] ?? m[3] ?? m[4] ?? '').trim() : null;
    return { no: i + 1, indent, dash, keyIndent, key, blank, text };
  });
}

/** Split "a.b[2].c" / "a.b.2.c" / "$.a" into segments. */
export function splitPath(path: string): string[] {
  return path
    .replace(/^\$\.?/, '')
    .replace(/\[(\d+)\]/g, '.$1')
    .replace(/\[["']?([^\]"']+)["']?\]/g, '.$1')
    .split('.')
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * The 1-based line the error at `path` refers to, or null.
 * `message` is consulted for parser errors such as "yaml: line 7: ...".
 */
export function findErrorLine(doc: string, path: string, message = ''): number | null {
  const lines = scan(doc);
  const segs = splitPath(path);
  if (segs.length === 0) {
    const m = /\bline (\d+)\b/i.exec(message);
    if (m) {
      const n = parseInt(m[1], 10);
      return n >= 1 && n <= lines.length ? n : null;
    }
    return null;
  }

  // Walk the document block by block.
  let from = 0;
  let to = lines.length; // scope [from, to)
  let best: number | null = null;
  let walked = true;
  for (const seg of segs) {
    const scope = lines.slice(from, to).filter((l) => !l.blank);
    if (scope.length === 0) {
      walked = false;
      break;
    }
    if (/^\d+$/.test(seg)) {
      const items = scope.filter((l) => l.dash);
      if (items.length === 0) {
        walked = false;
        break;
      }
      const level = Math.min(...items.map((l) => l.indent));
      const atLevel = items.filter((l) => l.indent === level);
      const item = atLevel[parseInt(seg, 10)];
      if (!item) {
        walked = false;
        break;
      }
      best = item.no;
      from = item.no - 1;
      to = blockEnd(lines, from, to, item.indent, true);
      // Keys on the dash line and below belong to the item.
      continue;
    }
    const keyed = scope.filter((l) => l.key !== null);
    const level = keyed.length ? Math.min(...keyed.map((l) => l.keyIndent)) : -1;
    const hit = keyed.find((l) => l.keyIndent === level && l.key === seg);
    if (hit) {
      best = hit.no;
      from = hit.no; // children start on the next line
      to = blockEnd(lines, hit.no - 1, to, hit.keyIndent, false);
      continue;
    }
    // Flow mapping on one line: "when: { per_pc: { evrey: 24h } }".
    const flow = new RegExp(`[{,]\\s*["']?${escapeRe(seg)}["']?\\s*:`);
    const inFlow = lines.slice(from, to).find((l) => !l.blank && flow.test(l.text));
    if (inFlow) return inFlow.no;
    walked = false;
    break;
  }
  if (walked && best !== null) return best;

  // Fallback: any line whose key is the last named segment.
  const last = [...segs].reverse().find((s) => !/^\d+$/.test(s));
  if (last) {
    const any = lines.find((l) => l.key === last);
    if (any) return any.no;
  }
  return best;
}

/** End (exclusive) of the block opened by line `start` at column `col`. */
function blockEnd(lines: Line[], start: number, limit: number, col: number, isItem: boolean): number {
  let i = start + 1;
  while (i < limit) {
    const l = lines[i];
    if (!l.blank) {
      if (isItem) {
        if (l.indent <= col) break;
      } else if (l.indent < col || (l.indent === col && !l.dash)) break;
      else if (l.indent === col && l.dash && lines[start].dash && lines[start].indent === col) break;
    }
    i++;
  }
  return i;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

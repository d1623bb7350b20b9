/** Where an error of a route table is: its path (`routes[2].percent`), then its line and column. */
import type { RouteTableError } from './route-table.model';

// ---------------------------------------------------------------------------------------------
// Paths of errors
// ---------------------------------------------------------------------------------------------

export type Segs = ReadonlyArray<string | number>;
export type Locate = (segs: Segs) => { line: number; column: number } | undefined;

export interface Problem {
  readonly segs: Segs;
  readonly message: string;
}

export function formatPath(segs: Segs): string {
  let out = '';
  for (const s of segs) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

export function toErrors(problems: readonly Problem[], locate?: Locate): RouteTableError[] {
  const seen = new Set<string>();
  const out: RouteTableError[] = [];
  for (const p of problems) {
    const path = formatPath(p.segs);
    const key = `${path}\n${p.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const pos = locate?.(p.segs);
    out.push(pos ? { path, message: p.message, line: pos.line, column: pos.column } : { path, message: p.message });
  }
  return out;
}


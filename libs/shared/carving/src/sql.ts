/** Small SQL text helpers for statements that cannot take bind parameters (COPY). */

/** Quotes a string literal (standard_conforming_strings on); refuses NUL. */
export function literal(value: string): string {
  if (value.includes('\0')) throw new Error('a Postgres literal cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;

/** A plain lower-case identifier, checked (it ends up in SQL text). */
export function ident(name: string, what = 'identifier'): string {
  if (!IDENT.test(name)) throw new TypeError(`${what} must be a plain lower-case identifier, got ${JSON.stringify(name)}`);
  return name;
}

/**
 * The fields of one line of COPY text format, unescaped (`\N` is null). Only what the backfill
 * needs to read its last key back: it is not on any hot path.
 */
export function parseCopyTextLine(line: string): Array<string | null> {
  return line.split('\t').map((field) => {
    if (field === '\\N') return null;
    if (!field.includes('\\')) return field;
    let out = '';
    for (let i = 0; i < field.length; i++) {
      const ch = field[i];
      if (ch !== '\\' || i === field.length - 1) {
        out += ch;
        continue;
      }
      const n = field[++i];
      switch (n) {
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': {
          const m = /^[0-9a-fA-F]{1,2}/.exec(field.slice(i + 1));
          if (m) {
            out += String.fromCharCode(parseInt(m[0], 16));
            i += m[0].length;
          } else out += 'x';
          break;
        }
        default:
          if (n >= '0' && n <= '7') {
            const m = /^[0-7]{1,3}/.exec(field.slice(i))!;
            out += String.fromCharCode(parseInt(m[0], 8));
            i += m[0].length - 1;
          } else out += n;
      }
    }
    return out;
  });
}

/** SQL for a timestamptz column as an ISO-8601 UTC string with milliseconds, as `Date.prototype.toISOString()` writes it. */
export function isoSql(column: string): string {
  return `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** Small, dependency-free helpers for building Postgres SQL and connection strings safely. */

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Schema and role names are used inside DDL that cannot take bind parameters, so they are
 * restricted to plain lower-case identifiers (no quoting surprises, no injection).
 */
export function assertIdentifier(name: string, what = 'identifier'): string {
  if (!IDENTIFIER.test(name)) {
    throw new Error(`Invalid ${what} ${JSON.stringify(name)}: use lower-case letters, digits and _ (max 63, not starting with a digit)`);
  }
  return name;
}

/** Quotes an identifier for Postgres ("a""b"). */
export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * Quotes a string literal for Postgres. Assumes standard_conforming_strings = on (the default
 * since 9.1), where a backslash is an ordinary character; it refuses NUL, which Postgres
 * cannot store in text.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('A Postgres literal cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

/** The same server and credentials, another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** The same server and database, other credentials. */
export function withCredentials(url: string, user: string, password?: string): string {
  const u = new URL(url);
  u.username = encodeURIComponent(user);
  u.password = password === undefined ? '' : encodeURIComponent(password);
  return u.toString();
}

/** A connection string fit for a log line: the password is masked. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable database url>';
  }
}

/** The database a connection string names (Postgres default: the user's name). */
export function databaseOf(url: string): string {
  const u = new URL(url);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  return db || decodeURIComponent(u.username) || 'postgres';
}

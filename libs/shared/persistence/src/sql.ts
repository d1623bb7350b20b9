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

/**
 * Creates a schema unless it exists, also when another process creates it at the same moment
 * (two `CREATE SCHEMA IF NOT EXISTS` racing: one of them fails with a unique violation on
 * pg_namespace, which this takes as "it exists now"). Checks first: CREATE SCHEMA IF NOT EXISTS
 * still demands CREATE on the database, which a migrator role does not have once the schema
 * exists. Outside a transaction (a failed statement would abort it). Returns whether it created it.
 */
export async function createSchemaIfMissing(db: { query: (sql: string, params?: unknown[]) => Promise<unknown> }, schema: string): Promise<boolean> {
  const found = (await db.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [assertIdentifier(schema, 'schema')])) as { rowCount?: number | null; length?: number };
  if ((found.rowCount ?? found.length ?? 0) > 0) return false;
  try {
    await db.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    return true;
  } catch (err) {
    const code = (err as { code?: string; driverError?: { code?: string } }).driverError?.code ?? (err as { code?: string }).code;
    if (code === '23505' || code === '42P06') return false;
    throw err;
  }
}

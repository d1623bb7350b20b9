/**
 * Bulk seeding for load tests, backfill rehearsals and benchmarks (`carve seed`): realistic rows
 * generated in Node and streamed with Postgres COPY (pg-copy-streams), table by table, in one
 * transaction, so a failed run leaves nothing behind. Progress (rows, rows/s) is reported through
 * `onProgress`. A million notes take seconds, not minutes.
 *
 * Tenants are skewed like real ones (Zipf: the first workspace is the biggest). Customers repeat
 * within a workspace, so filtering notes by customer email finds several.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type SslOption } from '@carve/shared-persistence';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { FEATURE_STATUSES, IMPORTANCES, NOTE_SOURCES, NOTE_STATES, RELEASE_STATES } from '@carve/legacy-domain';
import { migrateLegacy } from '../database/legacy-data-source';
import { emitLegacyEvents, featureEvent, type LegacyEvent, memberEvent, noteEvent, noteFeatureLinkEvent, releaseEvent, workspaceEvent } from '../events/legacy-events';
import { runWithWriteContext } from '../events/write-context';
import { FeatureCreated, MemberCreated, NoteCreated, NoteFeatureLinkCreated, ReleaseCreated, WorkspaceCreated } from '@carve/legacy-events';
import {
  COMMENT_LINES, COMPANIES, FEATURE_AREAS, FEATURE_VERBS, FIRST_NAMES, LAST_NAMES, NOTE_ASKS, NOTE_OPENERS, NOTE_PROBLEMS, prng, slugify, TAGS,
} from './vocabulary';

export interface SeedBulkOptions {
  url: string;
  ssl?: SslOption;
  /** Workspaces to create (>= 1). */
  workspaces: number;
  /** Notes in total, spread over the workspaces. */
  notes: number;
  /** Features in total (at least one per workspace when notes link to features). */
  features: number;
  /** Releases in total; default 4 per workspace. */
  releases?: number;
  /** Members per workspace; default 6 (1 admin, makers, 1 viewer). */
  membersPerWorkspace?: number;
  /** Comments in total; default one per feature. */
  comments?: number;
  /** Share of notes linked to features (1-2 links each); default 0.3. */
  linkRatio?: number;
  /** Features planned per release; default 5 (at most the workspace's features). */
  featuresPerRelease?: number;
  /** Distinct customers per workspace; default 500. */
  customersPerWorkspace?: number;
  /** PRNG seed for the content (ids are always random); default 42. */
  seed?: number;
  /** Apply pending migrations first (no-op when up to date); default true. */
  migrate?: boolean;
  /**
   * Also append, in the same transaction, the `created` event of every row written to
   * `legacy.outbox`, as the monolith's own writes do, so forward sync brings them to a context
   * that is being carved (its backfill already ran). Default false (a backfill copies the rows).
   */
  events?: boolean;
  onProgress?: (progress: SeedProgress) => void;
  /** Minimum time between progress reports of one table; default 250 ms. */
  progressIntervalMs?: number;
}

export interface SeedProgress {
  table: string;
  /** Rows of this table written so far. */
  rows: number;
  total: number;
  /** This table's rate so far. */
  rowsPerSecond: number;
  elapsedMs: number;
  done: boolean;
}

export interface SeedBulkResult {
  rows: Record<string, number>;
  /** Time each table's COPY took (ms), generation included. */
  tableMs: Record<string, number>;
  totalRows: number;
  elapsedMs: number;
  rowsPerSecond: number;
  workspaceIds: string[];
}

const CHUNK_ROWS = 2000;

/**
 * Time-ordered UUIDs (version 7 layout: 48-bit millisecond time, then random bits) for bulk rows:
 * B-tree inserts land at the right edge instead of all over the primary key, which keeps a
 * million-row COPY fast. Still plain `uuid` values; rows created through the API keep
 * gen_random_uuid().
 */
function uuidV7Factory(): (ms: number) => string {
  let pool = randomBytes(0);
  let offset = 0;
  return (ms: number) => {
    if (offset + 10 > pool.length) {
      pool = randomBytes(10 * 4096);
      offset = 0;
    }
    const r = pool.subarray(offset, (offset += 10));
    const hexTime = ms.toString(16).padStart(12, '0');
    const hex = r.toString('hex');
    const variant = ((r[2] & 0x3f) | 0x80).toString(16).padStart(2, '0');
    return `${hexTime.slice(0, 8)}-${hexTime.slice(8, 12)}-7${hex.slice(0, 3)}-${variant}${hex.slice(6, 8)}-${hex.slice(8, 20)}`;
  };
}

export async function seedBulk(opts: SeedBulkOptions): Promise<SeedBulkResult> {
  const o = normalise(opts);
  if (o.migrate) await migrateLegacy(o.url, { ssl: o.ssl });
  const rnd = prng(o.seed);
  const started = Date.now();
  const rows: Record<string, number> = {};
  const tableMs: Record<string, number> = {};
  const client = new Client({ connectionString: o.url, ssl: o.ssl, application_name: 'legacy-seed-bulk' });
  await client.connect();

  const copy = async (table: string, columns: string[], total: number, gen: () => Generator<string>) => {
    const t0 = Date.now();
    let done = 0;
    let lastReport = 0;
    const report = (final: boolean) => {
      const elapsedMs = Date.now() - t0;
      o.onProgress?.({ table, rows: done, total, rowsPerSecond: Math.round((done * 1000) / Math.max(1, elapsedMs)), elapsedMs, done: final });
    };
    function* chunks(): Generator<string> {
      let buf: string[] = [];
      for (const line of gen()) {
        buf.push(line);
        if (buf.length >= CHUNK_ROWS) {
          done += buf.length;
          yield buf.join('');
          buf = [];
          if (Date.now() - lastReport >= o.progressIntervalMs) {
            lastReport = Date.now();
            report(false);
          }
        }
      }
      if (buf.length) {
        done += buf.length;
        yield buf.join('');
      }
    }
    await pipeline(Readable.from(chunks(), { objectMode: false }), client.query(copyFrom(`COPY legacy.${table} (${columns.join(', ')}) FROM STDIN`)));
    rows[table] = done;
    tableMs[table] = Date.now() - t0;
    report(true);
  };

  let workspaceIds: string[] = [];
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL synchronous_commit = off');

    // --- workspaces and members
    const now = Date.now();
    const yearMs = 365 * 86_400_000;
    const ts = () => new Date(now - Math.floor(rnd() * yearMs)).toISOString();
    const runTag = randomUUID().slice(0, 8);
    const workspaces = Array.from({ length: o.workspaces }, (_, i) => ({ id: randomUUID(), name: `Tenant ${i + 1}`, slug: `tenant-${runTag}-${i + 1}` }));
    workspaceIds = workspaces.map((w) => w.id);
    await copy('workspaces', ['id', 'name', 'slug', 'created_at', 'updated_at'], o.workspaces, function* () {
      for (const w of workspaces) {
        const t = ts();
        yield row([w.id, w.name, w.slug, t, t]);
      }
    });

    const members: string[][] = workspaces.map(() => []);
    await copy('members', ['id', 'workspace_id', 'email', 'name', 'role', 'created_at', 'updated_at'], o.workspaces * o.membersPerWorkspace, function* () {
      for (const [wi, w] of workspaces.entries()) {
        for (let m = 0; m < o.membersPerWorkspace; m++) {
          const id = randomUUID();
          members[wi].push(id);
          const first = FIRST_NAMES[(m + wi) % FIRST_NAMES.length];
          const last = LAST_NAMES[(m * 7 + wi) % LAST_NAMES.length];
          const role = m === 0 ? 'admin' : m === o.membersPerWorkspace - 1 && m > 1 ? 'viewer' : 'maker';
          const t = ts();
          yield row([id, w.id, `${slugify(first)}.${slugify(last)}.${m}@${w.slug}.example`, `${first} ${last}`, role, t, t]);
        }
      }
    });

    // --- features (skewed like notes, but at least one per workspace) and their comments
    const weights = zipf(o.workspaces);
    const featureCounts = spread(o.features, weights, o.features >= o.workspaces ? 1 : 0);
    const features: string[][] = workspaces.map(() => []);
    await copy('features', ['id', 'workspace_id', 'title', 'description', 'status', 'priority', 'owner_id', 'tags', 'created_at', 'updated_at'], o.features, function* () {
      for (const [wi, w] of workspaces.entries()) {
        for (let k = 0; k < featureCounts[wi]; k++) {
          const id = randomUUID();
          features[wi].push(id);
          const area = FEATURE_AREAS[Math.floor(rnd() * FEATURE_AREAS.length)];
          const owner = rnd() < 0.7 ? members[wi][Math.floor(rnd() * Math.max(1, o.membersPerWorkspace - 1))] : null;
          const t = ts();
          yield row([
            id, w.id, `${FEATURE_VERBS[k % FEATURE_VERBS.length]} ${area.toLowerCase()} (${k + 1})`,
            `Requests about ${area.toLowerCase()} collected from customers.`,
            FEATURE_STATUSES[Math.floor(rnd() * FEATURE_STATUSES.length)], String(1 + Math.floor(rnd() * 5)), owner,
            arrayLiteral(tagsFor(rnd)), t, t,
          ]);
        }
      }
    });

    const withFeatures = workspaces.map((_, wi) => wi).filter((wi) => features[wi].length > 0);
    const comments = withFeatures.length ? o.comments : 0;
    await copy('feature_comments', ['id', 'workspace_id', 'feature_id', 'author_id', 'body', 'created_at', 'updated_at'], comments, function* () {
      for (let c = 0; c < comments; c++) {
        const wi = withFeatures[c % withFeatures.length];
        const t = ts();
        yield row([randomUUID(), workspaces[wi].id, pickFrom(rnd, features[wi]), pickFrom(rnd, members[wi]), COMMENT_LINES[c % COMMENT_LINES.length], t, t]);
      }
    });

    // --- notes (the big one) and their links, generated together
    const noteCounts = spread(o.notes, weights, 0);
    const links: string[] = [];
    // Customers repeat: a pool shared by the generator (emails unique per customer index).
    const customers = Array.from({ length: o.customersPerWorkspace }, (_, c) => {
      const first = FIRST_NAMES[c % FIRST_NAMES.length];
      const last = LAST_NAMES[Math.floor(c / FIRST_NAMES.length) % LAST_NAMES.length];
      const company = COMPANIES[c % COMPANIES.length];
      return { email: `${slugify(first)}.${slugify(last)}.${c}@${slugify(company)}.example`, name: `${first} ${last}`, company };
    });
    const uuid = uuidV7Factory();
    await copy(
      'notes',
      ['id', 'workspace_id', 'title', 'content', 'source', 'customer_email', 'customer_name', 'customer_company', 'tags', 'state', 'created_at', 'updated_at'],
      o.notes,
      function* () {
        for (const [wi, w] of workspaces.entries()) {
          const fs = features[wi];
          // created_at grows within a workspace (as notes arrive over a year): index inserts stay local.
          const step = yearMs / Math.max(1, noteCounts[wi]);
          for (let k = 0; k < noteCounts[wi]; k++) {
            const id = uuid(Date.now());
            const customer = rnd() < 0.9 ? customers[Math.floor(rnd() * customers.length)] : undefined;
            const problem = NOTE_PROBLEMS[Math.floor(rnd() * NOTE_PROBLEMS.length)];
            const t = new Date(now - yearMs + Math.floor((k + rnd()) * step)).toISOString();
            yield row([
              id, w.id, `${problem.charAt(0).toUpperCase()}${problem.slice(1, 50)}`,
              `${NOTE_OPENERS[Math.floor(rnd() * NOTE_OPENERS.length)]} ${problem}. ${NOTE_ASKS[Math.floor(rnd() * NOTE_ASKS.length)]}`,
              NOTE_SOURCES[Math.floor(rnd() * NOTE_SOURCES.length)],
              customer ? customer.email : null,
              customer ? customer.name : null,
              customer ? customer.company : null,
              arrayLiteral(tagsFor(rnd)), NOTE_STATES[Math.floor(rnd() * NOTE_STATES.length)], t, t,
            ]);
            if (fs.length && rnd() < o.linkRatio) {
              const first = Math.floor(rnd() * fs.length);
              links.push(row([id, fs[first], w.id, IMPORTANCES[Math.floor(rnd() * IMPORTANCES.length)], t, t]));
              if (fs.length > 1 && rnd() < 0.3) {
                links.push(row([id, fs[(first + 1 + Math.floor(rnd() * (fs.length - 1))) % fs.length], w.id, IMPORTANCES[Math.floor(rnd() * IMPORTANCES.length)], t, t]));
              }
            }
          }
        }
      },
    );
    await copy('note_features', ['note_id', 'feature_id', 'workspace_id', 'importance', 'created_at', 'updated_at'], links.length, function* () {
      yield* links;
    });
    links.length = 0;

    // --- releases and their plans
    const releaseCounts = spread(o.releases, weights, 0);
    const plans: string[] = [];
    await copy('releases', ['id', 'workspace_id', 'name', 'description', 'starts_on', 'ends_on', 'state', 'created_at', 'updated_at'], o.releases, function* () {
      for (const [wi, w] of workspaces.entries()) {
        for (let r = 0; r < releaseCounts[wi]; r++) {
          const id = randomUUID();
          const start = new Date(Date.UTC(2024, r * 3, 1));
          const end = new Date(Date.UTC(2024, r * 3 + 3, 0));
          const t = ts();
          yield row([id, w.id, `Release ${r + 1}`, `Planned work for release ${r + 1}.`, start.toISOString().slice(0, 10), end.toISOString().slice(0, 10),
            RELEASE_STATES[Math.min(RELEASE_STATES.length - 1, Math.floor(rnd() * RELEASE_STATES.length))], t, t]);
          const fs = features[wi];
          const n = Math.min(o.featuresPerRelease, fs.length);
          const offset = Math.floor(rnd() * Math.max(1, fs.length));
          for (let k = 0; k < n; k++) plans.push(row([id, fs[(offset + k) % fs.length], w.id, t]));
        }
      }
    });
    await copy('release_features', ['release_id', 'feature_id', 'workspace_id', 'created_at'], plans.length, function* () {
      yield* plans;
    });
    plans.length = 0;

    if (o.events) {
      const t0 = Date.now();
      const n = await appendCreatedEvents(client, workspaceIds, (done, total) =>
        o.onProgress?.({ table: 'outbox', rows: done, total, rowsPerSecond: Math.round((done * 1000) / Math.max(1, Date.now() - t0)), elapsedMs: Date.now() - t0, done: done === total }),
      );
      rows.outbox = n;
      tableMs.outbox = Date.now() - t0;
    }

    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
    throw err;
  }
  try {
    // Fresh statistics for what was loaded: without them the planner keeps the empty tables'
    // estimates until autovacuum gets to it (a list query ran 11 ms instead of 0.8 ms meanwhile).
    const t0 = Date.now();
    const loaded = Object.entries(rows).filter(([, n]) => n > 0).map(([table]) => `legacy.${table}`);
    if (loaded.length > 0) await client.query(`ANALYZE ${loaded.join(', ')}`);
    tableMs.analyze = Date.now() - t0;
  } finally {
    await client.end().catch(() => undefined);
  }

  const elapsedMs = Date.now() - started;
  const totalRows = Object.values(rows).reduce((a, b) => a + b, 0);
  return { rows, tableMs, totalRows, elapsedMs, rowsPerSecond: Math.round((totalRows * 1000) / Math.max(1, elapsedMs)), workspaceIds };
}

// ---------------------------------------------------------------------------------------------

type Normalised = Required<Omit<SeedBulkOptions, 'ssl' | 'onProgress'>> & Pick<SeedBulkOptions, 'ssl' | 'onProgress'>;

function normalise(opts: SeedBulkOptions): Normalised {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new Error(`seedBulk: ${name} must be an integer >= ${min}, got ${v}`);
    return v;
  };
  const workspaces = int('workspaces', opts.workspaces, 1);
  const membersPerWorkspace = int('membersPerWorkspace', opts.membersPerWorkspace ?? 6, 1);
  const features = int('features', opts.features, 0);
  const linkRatio = opts.linkRatio ?? 0.3;
  if (!(linkRatio >= 0 && linkRatio <= 1)) throw new Error(`seedBulk: linkRatio must be between 0 and 1, got ${linkRatio}`);
  return {
    url: opts.url,
    ssl: opts.ssl,
    workspaces,
    notes: int('notes', opts.notes, 0),
    features,
    releases: int('releases', opts.releases ?? workspaces * 4, 0),
    membersPerWorkspace,
    comments: int('comments', opts.comments ?? features, 0),
    linkRatio,
    featuresPerRelease: int('featuresPerRelease', opts.featuresPerRelease ?? 5, 0),
    customersPerWorkspace: int('customersPerWorkspace', opts.customersPerWorkspace ?? 500, 1),
    seed: opts.seed ?? 42,
    migrate: opts.migrate ?? true,
    events: opts.events ?? false,
    onProgress: opts.onProgress,
    progressIntervalMs: opts.progressIntervalMs ?? 250,
  };
}

/** Zipf weights (s = 1): tenant i gets a share proportional to 1 / (i + 1). */
function zipf(n: number): number[] {
  const raw = Array.from({ length: n }, (_, i) => 1 / (i + 1));
  const sum = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / sum);
}

/** Splits `total` by weights exactly (largest remainder), giving each at least `min` when possible. */
function spread(total: number, weights: number[], min: number): number[] {
  const floor = min * weights.length <= total ? min : 0;
  const rest = total - floor * weights.length;
  const exact = weights.map((w) => w * rest);
  const out = exact.map((x) => Math.floor(x) + floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0]);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k][1]] += 1;
  return out;
}

function tagsFor(rnd: () => number): string[] {
  const n = Math.floor(rnd() * 3);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = TAGS[Math.floor(rnd() * TAGS.length)];
    if (!out.includes(t)) out.push(t);
  }
  return out;
}

const pickFrom = (rnd: () => number, xs: string[]) => xs[Math.floor(rnd() * xs.length)];

/** One COPY text-format line. */
function row(values: Array<string | null>): string {
  return `${values.map((v) => (v === null ? '\\N' : escapeCopy(v))).join('\t')}\n`;
}

function escapeCopy(v: string): string {
  return /[\\\t\n\r]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r') : v;
}

/** A Postgres array literal of text values ({"a","b"}). */
function arrayLiteral(values: string[]): string {
  return `{${values.map((v) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`).join(',')}}`;
}

// ---- events ---------------------------------------------------------------------------------

const EVENT_BATCH = 2000;

/**
 * The `created` event of every row the seed wrote in `workspaceIds` (workspaces, members, features,
 * notes, note links, releases with their planned features), read back in keyset batches and built
 * by the monolith's own event builders, appended to `legacy.outbox` with the seed's transaction.
 */
async function appendCreatedEvents(client: Client, workspaceIds: string[], progress: (done: number, total: number) => void): Promise<number> {
  const count = async (sql: string) => Number((await client.query<{ n: string }>(sql, [workspaceIds])).rows[0].n);
  const total =
    workspaceIds.length +
    (await count('SELECT count(*) AS n FROM legacy.members WHERE workspace_id = ANY($1::uuid[])')) +
    (await count('SELECT count(*) AS n FROM legacy.features WHERE workspace_id = ANY($1::uuid[])')) +
    (await count('SELECT count(*) AS n FROM legacy.notes WHERE workspace_id = ANY($1::uuid[])')) +
    (await count('SELECT count(*) AS n FROM legacy.note_features WHERE workspace_id = ANY($1::uuid[])')) +
    (await count('SELECT count(*) AS n FROM legacy.releases WHERE workspace_id = ANY($1::uuid[])'));
  let done = 0;
  const emit = async (events: LegacyEvent[]) => {
    await emitLegacyEvents(client, events);
    done += events.length;
    progress(done, total);
  };
  // A keyset walk over one table: `select` lists the columns (camelCase aliases), `key` orders.
  const walk = async <R extends Record<string, unknown>>(select: string, from: string, key: string, build: (r: R) => LegacyEvent) => {
    let after: string | null = null;
    for (;;) {
      const { rows }: { rows: Array<R & { k: string }> } = await client.query<R & { k: string }>(
        `SELECT ${select}, ${key} AS k FROM legacy.${from} t WHERE t.workspace_id = ANY($1::uuid[]) AND ($2::text IS NULL OR ${key} > $2::text) ORDER BY ${key} LIMIT ${EVENT_BATCH}`,
        [workspaceIds, after],
      );
      if (rows.length === 0) return;
      await emit(rows.map(build));
      after = rows[rows.length - 1].k;
    }
  };
  await runWithWriteContext({ correlationId: `seed-${randomUUID()}` }, async () => {
    const ws = await client.query('SELECT id, name, slug, version, created_at AS "createdAt", updated_at AS "updatedAt" FROM legacy.workspaces WHERE id = ANY($1::uuid[]) ORDER BY id', [workspaceIds]);
    await emit(ws.rows.map((w) => workspaceEvent(WorkspaceCreated, w)));
    await walk('t.id, t.workspace_id AS "workspaceId", t.email, t.name, t.role, t.version, t.created_at AS "createdAt", t.updated_at AS "updatedAt"', 'members', 't.id::text', (m) =>
      memberEvent(MemberCreated, m as never),
    );
    await walk(
      't.id, t.workspace_id AS "workspaceId", t.title, t.description, t.status, t.priority, t.owner_id AS "ownerId", t.tags, t.version, t.created_at AS "createdAt", t.updated_at AS "updatedAt"',
      'features', 't.id::text', (f) => featureEvent(FeatureCreated, f as never),
    );
    await walk(
      't.id, t.workspace_id AS "workspaceId", t.title, t.content, t.source, t.customer_email AS "customerEmail", t.customer_name AS "customerName", ' +
        't.customer_company AS "customerCompany", t.tags, t.state, t.version, t.created_at AS "createdAt", t.updated_at AS "updatedAt"',
      'notes', 't.id::text', (n) => noteEvent(NoteCreated, n as never),
    );
    await walk(
      't.note_id AS "noteId", t.feature_id AS "featureId", t.workspace_id AS "workspaceId", t.importance, t.created_at AS "createdAt", t.updated_at AS "updatedAt", ' +
        '(SELECT n.version FROM legacy.notes n WHERE n.id = t.note_id) AS "noteVersion"',
      'note_features', "t.note_id::text || '/' || t.feature_id::text", (l) => noteFeatureLinkEvent(NoteFeatureLinkCreated, l as never, l.noteVersion as number),
    );
    await walk(
      't.id, t.workspace_id AS "workspaceId", t.name, t.description, t.starts_on::text AS "startsOn", t.ends_on::text AS "endsOn", t.state, t.version, ' +
        't.created_at AS "createdAt", t.updated_at AS "updatedAt", ' +
        'ARRAY(SELECT rf.feature_id::text FROM legacy.release_features rf WHERE rf.release_id = t.id ORDER BY rf.feature_id) AS "featureIds"',
      'releases', 't.id::text', (r) => releaseEvent(ReleaseCreated, r as never, r.featureIds as string[]),
    );
  });
  return done;
}

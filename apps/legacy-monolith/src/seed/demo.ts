/**
 * Demo data for `carve dev`: three workspaces with members, features (with comments), notes
 * (with customers and feature links) and releases (with planned features).
 *
 * Every id is deterministic (the first workspace's are the documented DEMO_IDS; the rest are
 * derived from names), so the seed is idempotent: a second run inserts nothing
 * (ON CONFLICT DO NOTHING), and docs and `carve token` can name the first workspace and its users.
 */
import { createHash } from 'node:crypto';
import { DEMO_IDS, type FeatureStatus, type Importance, type MemberRole, type NoteSource, type NoteState, type ReleaseState } from '@carve/legacy-domain';
import type { DataSource } from 'typeorm';
import {
  COMMENT_LINES, COMPANIES, FEATURE_AREAS, FEATURE_VERBS, FIRST_NAMES, LAST_NAMES, NOTE_ASKS, NOTE_OPENERS, NOTE_PROBLEMS, pick, prng, slugify, TAGS,
} from './vocabulary';

export { DEMO_IDS } from '@carve/legacy-domain';

export interface DemoSummary {
  /** Rows inserted by this run per table (all zero when the demo data was already there). */
  inserted: Record<string, number>;
  workspaces: Array<{ id: string; name: string; slug: string; admin: string; maker: string; viewer: string }>;
}

/** A v4-shaped UUID derived from a name: stable across runs. */
export function demoId(name: string): string {
  const h = createHash('sha256').update(`carve-demo:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const WORKSPACES = [
  { name: 'Acme Analytics', slug: 'acme', ids: DEMO_IDS },
  { name: 'Globex', slug: 'globex' },
  { name: 'Initech', slug: 'initech' },
] as const;

const STATUSES: FeatureStatus[] = ['new', 'planned', 'in-progress', 'done'];
const SOURCES: NoteSource[] = ['email', 'slack', 'intercom', 'manual'];
const NOTE_STATES: NoteState[] = ['unprocessed', 'unprocessed', 'processed', 'archived'];
const IMPORTANCE: Importance[] = ['low', 'medium', 'high', 'critical'];

export async function seedDemo(dataSource: DataSource): Promise<DemoSummary> {
  return dataSource.transaction(async (em) => {
    // Two `carve dev` starting together must not interleave.
    await em.query("SELECT pg_advisory_xact_lock(hashtextextended('carve:seed-demo', 0))");
    const inserted: Record<string, number> = {};
    const insert = async (table: string, row: Record<string, unknown>) => {
      const cols = Object.keys(row);
      const res = await em.query(
        `INSERT INTO legacy.${table} (${cols.join(', ')}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING RETURNING 1`,
        Object.values(row),
      );
      inserted[table] = (inserted[table] ?? 0) + res.length;
    };
    const summary: DemoSummary['workspaces'] = [];
    for (const [wi, ws] of WORKSPACES.entries()) {
      summary.push(await seedWorkspace(insert, ws, wi));
    }
    for (const t of ['workspaces', 'members', 'features', 'feature_comments', 'notes', 'note_features', 'releases', 'release_features']) inserted[t] ??= 0;
    return { inserted, workspaces: summary };
  });
}

type Insert = (table: string, row: Record<string, unknown>) => Promise<void>;

async function seedWorkspace(
  insert: Insert,
  ws: (typeof WORKSPACES)[number],
  wi: number,
): Promise<DemoSummary['workspaces'][number]> {
  const rnd = prng(1000 + wi);
  const wsId = 'ids' in ws ? ws.ids.workspaceId : demoId(`${ws.slug}/workspace`);
  const domain = `${ws.slug}.example`;
  // Timestamps: spread over the last 90 days, fixed relative to "now" so lists look alive.
  const now = Date.now();
  const ago = (days: number) => new Date(now - days * 86_400_000).toISOString();

  await insert('workspaces', { id: wsId, name: ws.name, slug: ws.slug, created_at: ago(120), updated_at: ago(120) });

  const people: Array<{ role: MemberRole; first: string; last: string; id?: string }> = [
    { role: 'admin', first: 'Ada', last: 'Admin', id: 'ids' in ws ? ws.ids.adminId : undefined },
    { role: 'maker', first: 'Max', last: 'Maker', id: 'ids' in ws ? ws.ids.makerId : undefined },
    { role: 'viewer', first: 'Vera', last: 'Viewer', id: 'ids' in ws ? ws.ids.viewerId : undefined },
    { role: 'maker', first: pick(rnd, FIRST_NAMES), last: pick(rnd, LAST_NAMES) },
    { role: 'maker', first: pick(rnd, FIRST_NAMES), last: pick(rnd, LAST_NAMES) },
  ];
  const memberIds: string[] = [];
  for (const [i, p] of people.entries()) {
    const id = p.id ?? demoId(`${ws.slug}/member/${i}`);
    memberIds.push(id);
    const email = i < 3 ? `${p.role}@${domain}` : `${slugify(p.first)}.${slugify(p.last)}.${i}@${domain}`;
    await insert('members', { id, workspace_id: wsId, email, name: `${p.first} ${p.last}`, role: p.role, created_at: ago(110 - i), updated_at: ago(110 - i) });
  }
  const makers = memberIds.filter((_, i) => people[i].role !== 'viewer');

  const featureIds: string[] = [];
  for (let i = 0; i < 8; i++) {
    const id = demoId(`${ws.slug}/feature/${i}`);
    featureIds.push(id);
    const area = FEATURE_AREAS[(i * 7 + wi * 3) % FEATURE_AREAS.length];
    await insert('features', {
      id,
      workspace_id: wsId,
      title: `${FEATURE_VERBS[i % FEATURE_VERBS.length]} ${area.toLowerCase()}`,
      description: `Customers keep asking about ${area.toLowerCase()}. This feature collects what we know and what we plan.`,
      status: STATUSES[i % STATUSES.length],
      priority: (i % 5) + 1,
      owner_id: i % 3 === 2 ? null : makers[i % makers.length],
      tags: [pick(rnd, TAGS), pick(rnd, TAGS)].filter((t, k, a) => a.indexOf(t) === k),
      created_at: ago(100 - i * 5),
      updated_at: ago(60 - i * 5),
    });
    for (let c = 0; c < (i % 3); c++) {
      await insert('feature_comments', {
        id: demoId(`${ws.slug}/feature/${i}/comment/${c}`),
        workspace_id: wsId,
        feature_id: id,
        author_id: makers[(i + c) % makers.length],
        body: COMMENT_LINES[(i + c) % COMMENT_LINES.length],
        created_at: ago(50 - i * 3 - c),
        updated_at: ago(50 - i * 3 - c),
      });
    }
  }

  for (let i = 0; i < 15; i++) {
    const id = demoId(`${ws.slug}/note/${i}`);
    const first = pick(rnd, FIRST_NAMES);
    const last = pick(rnd, LAST_NAMES);
    const company = pick(rnd, COMPANIES);
    const problem = NOTE_PROBLEMS[(i + wi) % NOTE_PROBLEMS.length];
    const withCustomer = i % 5 !== 4;
    await insert('notes', {
      id,
      workspace_id: wsId,
      title: problem.charAt(0).toUpperCase() + problem.slice(1, 60),
      content: `${pick(rnd, NOTE_OPENERS)} ${problem}. ${pick(rnd, NOTE_ASKS)}`,
      source: SOURCES[i % SOURCES.length],
      customer_email: withCustomer ? `${slugify(first)}.${slugify(last)}@${slugify(company)}.example` : null,
      customer_name: withCustomer ? `${first} ${last}` : null,
      customer_company: withCustomer ? company : null,
      tags: [pick(rnd, TAGS)],
      state: NOTE_STATES[i % NOTE_STATES.length],
      created_at: ago(90 - i * 5),
      updated_at: ago(90 - i * 5),
    });
    const links = i % 3 === 0 ? 0 : 1 + (i % 2);
    for (let l = 0; l < links; l++) {
      await insert('note_features', {
        note_id: id,
        feature_id: featureIds[(i + l * 3) % featureIds.length],
        workspace_id: wsId,
        importance: IMPORTANCE[(i + l) % IMPORTANCE.length],
        created_at: ago(80 - i * 5),
        updated_at: ago(80 - i * 5),
      });
    }
  }

  const quarter = (offset: number) => {
    const d = new Date();
    const q = Math.floor(d.getUTCMonth() / 3) + offset;
    const year = d.getUTCFullYear() + Math.floor(q / 4);
    const qi = ((q % 4) + 4) % 4;
    const start = new Date(Date.UTC(year, qi * 3, 1));
    const end = new Date(Date.UTC(year, qi * 3 + 3, 0));
    return { name: `${year} Q${qi + 1}`, start: start.toISOString().slice(0, 10), end: end.toISOString().slice(0, 10) };
  };
  const plan: Array<[number, ReleaseState]> = [
    [-1, 'released'],
    [0, 'in-progress'],
    [1, 'planned'],
  ];
  for (const [r, [offset, state]] of plan.entries()) {
    const q = quarter(offset);
    const id = demoId(`${ws.slug}/release/${r}`);
    await insert('releases', {
      id,
      workspace_id: wsId,
      name: q.name,
      description: `What ${ws.name} ships in ${q.name}.`,
      starts_on: q.start,
      ends_on: q.end,
      state,
      created_at: ago(95 - r),
      updated_at: ago(95 - r),
    });
    for (let k = 0; k < 3; k++) {
      await insert('release_features', { release_id: id, feature_id: featureIds[(r * 3 + k) % featureIds.length], workspace_id: wsId, created_at: ago(90 - r) });
    }
  }

  return { id: wsId, name: ws.name, slug: ws.slug, admin: memberIds[0], maker: memberIds[1], viewer: memberIds[2] };
}

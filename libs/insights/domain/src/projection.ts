/**
 * The canonical projection of a note: one shape both sides can be reduced to, whatever their
 * tables look like (the monolith keeps the customer inline on the note; the service keeps
 * customers apart and joins them back). `carve verify` compares these, per workspace.
 *
 * - `customerEmail` is the whole customer as far as a note is concerned: the service keeps one
 *   customer per (workspace, email) whose name and company are those of the newest note written
 *   with that email, while the monolith keeps a copy per note. Names and companies are compared
 *   per customer with `canonicalCustomer` (legacy side: the newest note of that email).
 * - `features` are the note's links, sorted by feature id.
 * - timestamps are ISO-8601 UTC with milliseconds (both sides store timestamptz(3)).
 */

export interface NoteLike {
  id: string;
  workspaceId: string;
  title: string;
  content: string;
  source: string;
  customerEmail: string | null;
  tags: readonly string[];
  state: string;
  version: number;
  createdAt: Date | string;
  updatedAt: Date | string;
  features: ReadonlyArray<{ featureId: string; importance: string }>;
}

export interface CanonicalNote {
  id: string;
  workspaceId: string;
  title: string;
  content: string;
  source: string;
  customerEmail: string | null;
  tags: string[];
  state: string;
  version: number;
  createdAt: string;
  updatedAt: string;
  features: Array<{ featureId: string; importance: string }>;
}

export interface CanonicalCustomer {
  workspaceId: string;
  email: string;
  name: string | null;
  company: string | null;
}

export const isoMillis = (t: Date | string): string => (t instanceof Date ? t : new Date(t)).toISOString();

export function canonicalNote(n: NoteLike): CanonicalNote {
  return {
    id: n.id.toLowerCase(),
    workspaceId: n.workspaceId.toLowerCase(),
    title: n.title,
    content: n.content,
    source: n.source,
    customerEmail: n.customerEmail ? n.customerEmail.toLowerCase() : null,
    tags: [...n.tags],
    state: n.state,
    version: Number(n.version),
    createdAt: isoMillis(n.createdAt),
    updatedAt: isoMillis(n.updatedAt),
    features: n.features
      .map((f) => ({ featureId: f.featureId.toLowerCase(), importance: f.importance }))
      .sort((a, b) => (a.featureId < b.featureId ? -1 : a.featureId > b.featureId ? 1 : 0)),
  };
}

export function canonicalCustomer(c: { workspaceId: string; email: string; name: string | null; company: string | null }): CanonicalCustomer {
  return { workspaceId: c.workspaceId.toLowerCase(), email: c.email.toLowerCase(), name: c.name ?? null, company: c.company ?? null };
}

/** JSON with object keys sorted at every level: equal projections give equal text (hash it for checksums). */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]])) : v,
  );
}

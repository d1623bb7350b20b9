/**
 * The notes API's JSON, exactly as the monolith answers (apps/legacy-monolith notes.views.ts):
 * the service joins the customer back into the note.
 */

export interface NoteRow {
  id: string;
  workspace_id: string;
  title: string;
  content: string;
  source: string;
  customer_email: string | null;
  customer_name: string | null;
  customer_company: string | null;
  tags: string[];
  state: string;
  aggregate_version: number;
  created_at: Date;
  updated_at: Date;
}

export interface LinkRow {
  note_id: string;
  feature_id: string;
  importance: string;
  created_at: Date;
  updated_at: Date;
}

export interface NoteView {
  id: string;
  workspaceId: string;
  title: string;
  content: string;
  source: string;
  customer: { email: string; name: string | null; company: string | null } | null;
  tags: string[];
  state: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface NoteWithLinksView extends NoteView {
  features: Array<{ featureId: string; importance: string }>;
}

export interface NoteLinkView {
  noteId: string;
  featureId: string;
  importance: string;
  createdAt: Date;
  updatedAt: Date;
}

export const noteView = (n: NoteRow): NoteView => ({
  id: n.id,
  workspaceId: n.workspace_id,
  title: n.title,
  content: n.content,
  source: n.source,
  customer: n.customer_email ? { email: n.customer_email, name: n.customer_name, company: n.customer_company } : null,
  tags: n.tags,
  state: n.state,
  version: n.aggregate_version,
  createdAt: n.created_at,
  updatedAt: n.updated_at,
});

export const noteLinkView = (l: LinkRow): NoteLinkView => ({
  noteId: l.note_id,
  featureId: l.feature_id,
  importance: l.importance,
  createdAt: l.created_at,
  updatedAt: l.updated_at,
});

/** A single note shows its links too, by (createdAt, featureId). */
export const noteWithLinksView = (n: NoteRow, links: LinkRow[]): NoteWithLinksView => ({
  ...noteView(n),
  features: links.map((l) => ({ featureId: l.feature_id, importance: l.importance })),
});

import type { NoteFeature } from './note-feature.entity';
import type { Note } from './note.entity';

export const noteView = (n: Note) => ({
  id: n.id,
  workspaceId: n.workspaceId,
  title: n.title,
  content: n.content,
  source: n.source,
  customer: n.customerEmail ? { email: n.customerEmail, name: n.customerName, company: n.customerCompany } : null,
  tags: n.tags,
  state: n.state,
  version: n.version,
  createdAt: n.createdAt,
  updatedAt: n.updatedAt,
});

export const noteLinkView = (l: NoteFeature) => ({
  noteId: l.noteId,
  featureId: l.featureId,
  importance: l.importance,
  createdAt: l.createdAt,
  updatedAt: l.updatedAt,
});

/** A single note shows its links too. */
export const noteWithLinksView = ({ note, links }: { note: Note; links: NoteFeature[] }) => ({
  ...noteView(note),
  features: links.map((l) => ({ featureId: l.featureId, importance: l.importance })),
});

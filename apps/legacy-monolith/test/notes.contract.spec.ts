/**
 * The notes HTTP contract (@carve/insights-api-contract), run against the monolith: the same
 * suite the insights service passes (apps/insights-service/test/notes.contract.spec.ts), so
 * both sides answer every case the same way. Features go through the monolith's own API; the
 * tied notes and their links are inserted as rows, as old data would be.
 */
import { describeNotesContract } from '@carve/insights-api-contract';
import { monolithContractTarget } from './support';

const monolith = monolithContractTarget('legacy_notes_contract');

describeNotesContract({
  ...monolith.target,
  async seedNotes(ws, notes) {
    for (const n of notes) {
      await monolith.harness().ds.query(
        `INSERT INTO legacy.notes (id, workspace_id, title, content, source, customer_email, customer_name, customer_company, tags, state, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [n.id, ws.id, n.title, n.content, n.source, n.customer?.email ?? null, n.customer?.name ?? null, n.customer?.company ?? null, n.tags, n.state, n.createdAt, n.updatedAt],
      );
    }
  },
  async seedLinks(ws, links) {
    for (const l of links) {
      await monolith.harness().ds.query(
        `INSERT INTO legacy.note_features (note_id, feature_id, workspace_id, created_at, updated_at)
         SELECT $1, $2, $3, created_at, created_at FROM legacy.notes WHERE id = $1`,
        [l.noteId, l.featureId, ws.id],
      );
    }
  },
  bodyLimitBytes: 256 * 1024,
});

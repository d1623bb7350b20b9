/**
 * The notes HTTP contract (@carve/insights-api-contract), run against the insights service
 * as the source of truth (stage writes-switched). Features and the 37 tied notes are seeded the
 * way forward sync writes them (the apply functions); everything else goes through HTTP. The
 * monolith runs the same suite (apps/legacy-monolith/test/notes.contract.spec.ts).
 */
import { describeNotesContract } from '@carve/insights-api-contract';
import { type ServiceHarness, startServiceHarness } from './support';

let h: ServiceHarness;
beforeAll(async () => {
  h = await startServiceHarness('insights_contract');
  await h.setStage('writes-switched');
});
afterAll(async () => {
  await h?.close();
});

describeNotesContract({
  name: 'insights-service',
  baseUrl: () => h.url,
  workspace: () => h.workspace(),
  features: (ws, titles) => h.features(ws, titles),
  seedNotes: (ws, notes) => h.seedNotes(ws, notes),
  seedLinks: (ws, links) => h.seedLinks(ws, links),
  bodyLimitBytes: 256 * 1024,
});

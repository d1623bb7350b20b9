/**
 * The releases HTTP contract (@carve/roadmaps-api-contract), run against the roadmaps
 * service as the source of truth (stage writes-switched). Workspaces, features and the 23 tied
 * releases are seeded the way forward sync writes them (the apply functions); everything else
 * goes through HTTP. The monolith runs the same suite (apps/legacy-monolith/test/releases.contract.spec.ts).
 */
import { describeReleasesContract } from '@carve/roadmaps-api-contract';
import { type ServiceHarness, startServiceHarness } from './support';

let h: ServiceHarness;
beforeAll(async () => {
  h = await startServiceHarness('roadmaps_contract');
  await h.setStage('writes-switched');
});
afterAll(async () => {
  await h?.close();
});

describeReleasesContract({
  name: 'roadmaps-service',
  baseUrl: () => h.url,
  workspace: () => h.workspace(),
  features: (ws, titles) => h.features(ws, titles),
  seedReleases: (ws, releases) => h.seedReleases(ws, releases),
  bodyLimitBytes: 256 * 1024,
});

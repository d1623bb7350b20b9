import type { ReleaseFeature } from './release-feature.entity';
import type { Release } from './release.entity';

export const releaseView = (r: Release) => ({
  id: r.id,
  workspaceId: r.workspaceId,
  name: r.name,
  description: r.description,
  timeframe: { start: r.startsOn, end: r.endsOn },
  state: r.state,
  version: r.version,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
});

export const plannedFeatureView = (p: ReleaseFeature) => ({ releaseId: p.releaseId, featureId: p.featureId, createdAt: p.createdAt });

export const releaseWithPlanView = ({ release, planned }: { release: Release; planned: ReleaseFeature[] }) => ({
  ...releaseView(release),
  featureIds: planned.map((p) => p.featureId),
});

/**
 * The releases API's JSON, exactly as the monolith answers (apps/legacy-monolith
 * releases.views.ts): timeframe as calendar dates, the plan as `featureIds` (in planning order),
 * a planned feature as { releaseId, featureId, createdAt }.
 */
import type { ReleaseStateV1 } from '@carve/legacy-events';

export interface ReleaseRow {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  /** YYYY-MM-DD */
  starts_on: string;
  ends_on: string;
  state: string;
  aggregate_version: number;
  created_at: Date;
  updated_at: Date;
}

export interface PlannedRow {
  release_id: string;
  feature_id: string;
  created_at: Date;
}

export interface ReleaseView {
  id: string;
  workspaceId: string;
  name: string;
  description: string;
  timeframe: { start: string; end: string };
  state: string;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export type ReleaseWithPlanView = ReleaseView & { featureIds: string[] };

export interface PlannedFeatureView {
  releaseId: string;
  featureId: string;
  createdAt: Date;
}

export const releaseView = (r: ReleaseRow): ReleaseView => ({
  id: r.id,
  workspaceId: r.workspace_id,
  name: r.name,
  description: r.description,
  timeframe: { start: r.starts_on, end: r.ends_on },
  state: r.state,
  version: r.aggregate_version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export const releaseWithPlanView = (r: ReleaseRow, plan: PlannedRow[]): ReleaseWithPlanView => ({ ...releaseView(r), featureIds: plan.map((p) => p.feature_id) });

export const plannedFeatureView = (p: PlannedRow): PlannedFeatureView => ({ releaseId: p.release_id, featureId: p.feature_id, createdAt: p.created_at });

/** The release as its events carry it (the monolith's ReleaseState). */
export function releaseState(r: ReleaseRow, plan: PlannedRow[]): ReleaseStateV1 {
  return {
    id: r.id,
    workspaceId: r.workspace_id,
    name: r.name,
    description: r.description,
    startsOn: r.starts_on,
    endsOn: r.ends_on,
    state: r.state as ReleaseStateV1['state'],
    featureIds: plan.map((p) => p.feature_id),
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

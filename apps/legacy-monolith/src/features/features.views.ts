import type { FeatureComment } from './feature-comment.entity';
import type { Feature } from './feature.entity';

export const featureView = (f: Feature) => ({
  id: f.id,
  workspaceId: f.workspaceId,
  title: f.title,
  description: f.description,
  status: f.status,
  priority: f.priority,
  ownerId: f.ownerId,
  tags: f.tags,
  version: f.version,
  createdAt: f.createdAt,
  updatedAt: f.updatedAt,
});

export const commentView = (c: FeatureComment) => ({
  id: c.id,
  featureId: c.featureId,
  authorId: c.authorId,
  body: c.body,
  createdAt: c.createdAt,
  updatedAt: c.updatedAt,
});

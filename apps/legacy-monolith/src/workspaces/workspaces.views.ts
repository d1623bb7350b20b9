import type { Member } from './member.entity';
import type { Workspace } from './workspace.entity';

/** What the API shows of a workspace and a member. */
export const workspaceView = (w: Workspace) => ({
  id: w.id,
  name: w.name,
  slug: w.slug,
  version: w.version,
  createdAt: w.createdAt,
  updatedAt: w.updatedAt,
});

export const memberView = (m: Member) => ({
  id: m.id,
  workspaceId: m.workspaceId,
  email: m.email,
  name: m.name,
  role: m.role,
  version: m.version,
  createdAt: m.createdAt,
  updatedAt: m.updatedAt,
});

/**
 * Well-known ids of the demo data `carve dev` loads (the first demo workspace and its admin),
 * so `carve token` and the docs can name them: the monolith's demo seed uses the same ids.
 */
import { DEMO_IDS } from '@carve/legacy-domain';

export const DEMO = { workspaceId: DEMO_IDS.workspaceId, adminUserId: DEMO_IDS.adminId } as const;

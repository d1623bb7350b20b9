/**
 * Well-known ids of the demo data `carve dev` loads (the first demo workspace and its admin),
 * so `carve token` and the docs can name them. Kept in step with the monolith's demo seed.
 */
export const DEMO = {
  workspaceId: '0a000000-0000-4000-8000-000000000001',
  adminUserId: '0b000000-0000-4000-8000-000000000001',
} as const;

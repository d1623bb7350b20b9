/** `isUuid` is the kernel's (@carve/shared-kernel), re-exported by the index. */

/**
 * Deterministic ids of the first demo workspace, so docs, `carve token` and tests can name them.
 * (Valid v4-shaped UUIDs.)
 */
export const DEMO_IDS = {
  workspaceId: '00000000-0000-4000-a000-000000000001',
  adminId: '00000000-0000-4000-a000-0000000000a1',
  makerId: '00000000-0000-4000-a000-0000000000a2',
  viewerId: '00000000-0000-4000-a000-0000000000a3',
} as const;

/** The carving stages, roles and ids every context shares are @carve/shared-kernel's (re-exported by the index). */

/** The context name of insights in the control plane. */
export const INSIGHTS_CONTEXT = 'insights';

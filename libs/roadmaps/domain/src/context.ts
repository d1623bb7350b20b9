/** The context's name in the control plane (`carve.context_stages`) and on the command line. */
export const ROADMAPS_CONTEXT = 'roadmaps';

/** The monolith's aggregates this context takes over (as in its API paths and topics). */
export const ROADMAPS_AGGREGATES = ['releases'] as const;

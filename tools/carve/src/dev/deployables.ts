/**
 * What `carve dev` runs, in start order. A new context's service adds one entry here
 * (the context generator does it for you). Entries whose entry file does not exist yet are
 * skipped, so the list can name a service before it lands.
 */
export interface DevDeployable {
  name: string;
  /** Entry file, relative to the repository root (TypeScript, run through the SWC hook). */
  entry: string;
  port: number;
  /** Extra environment for this process. */
  env?: Record<string, string>;
  /** Optional admin/metrics port, shown in the summary. */
  adminPort?: number;
}

export const DEV_DEPLOYABLES: DevDeployable[] = [
  { name: 'legacy-monolith', entry: 'apps/legacy-monolith/src/main.ts', port: 3000 },
  { name: 'insights-service', entry: 'apps/insights-service/src/main.ts', port: 3101 },
  { name: 'roadmaps-service', entry: 'apps/roadmaps-service/src/main.ts', port: 3102 },
  {
    name: 'gateway',
    entry: 'apps/gateway/src/main.ts',
    port: 8080,
    adminPort: 9090,
    env: { CARVE_ROUTES_FILE: 'apps/gateway/routes/dev.yaml', CARVE_ADMIN_PORT: '9090' },
  },
];

/** The one-shot step that migrates the monolith's schema and loads the demo data. */
export const DEMO_SEED_ENTRY = 'apps/legacy-monolith/src/seed/main.ts';

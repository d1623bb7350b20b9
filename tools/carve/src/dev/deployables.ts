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
  // Reverse sync on: once a context's writes are cut over, the monolith applies the service's
  // events, which keeps a rollback lossless.
  { name: 'legacy-monolith', entry: 'apps/legacy-monolith/src/main.ts', port: 3000, env: { CARVE_REVERSE_SYNC: 'true' } },
  { name: 'insights-service', entry: 'apps/insights-service/src/main.ts', port: 3101 },
  { name: 'roadmaps-service', entry: 'apps/roadmaps-service/src/main.ts', port: 3102 },
  {
    name: 'gateway',
    entry: 'apps/gateway/src/main.ts',
    port: 8080,
    adminPort: 9090,
    env: { CARVE_ROUTES_FILE: 'apps/gateway/routes/dev.yaml', CARVE_ADMIN_PORT: '9090', CARVE_SERVED_BY_HEADER: 'true' },
  },
];

/** The one-shot step that migrates the monolith's schema and loads the demo data. */
export const DEMO_SEED_ENTRY = 'apps/legacy-monolith/src/seed/main.ts';

/** The name CARVE_DEV_PORTS gives the gateway's admin port. */
export const ADMIN_PORT_NAME = 'gateway-admin';

/**
 * The ports `carve dev` uses: each deployable's (and `gateway-admin`), overridden by
 * CARVE_DEV_PORTS=name=port,... (e.g. `gateway=18080,gateway-admin=19090,legacy-monolith=13000`),
 * so a second stack can run beside the first.
 */
export function devPorts(spec = process.env.CARVE_DEV_PORTS ?? ''): Map<string, number> {
  const ports = new Map<string, number>();
  for (const d of DEV_DEPLOYABLES) {
    ports.set(d.name, d.port);
    if (d.adminPort) ports.set(ADMIN_PORT_NAME, d.adminPort);
  }
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([\w-]+)=(\d+)$/.exec(part);
    if (!m || !ports.has(m[1])) throw new Error(`CARVE_DEV_PORTS: "${part}" is not name=port with a name among ${[...ports.keys()].join(', ')}`);
    const port = Number(m[2]);
    if (port < 1 || port > 65535) throw new Error(`CARVE_DEV_PORTS: port ${port} of ${m[1]} is out of range`);
    ports.set(m[1], port);
  }
  return ports;
}

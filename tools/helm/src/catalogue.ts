/**
 * The deployable charts and what sets them apart. The values schemas are generated from this
 * (values-schema.ts) and the chart tests read it, so a new deployable is one entry here plus its
 * chart folder.
 */
export interface DeployableChart {
  /** Folder under charts/ and the Helm release name. */
  chart: string;
  /** Nx project of the app the chart deploys (its project.json names it once the app exists). */
  app: string;
  scope: string;
  /** Port the app listens on (PORT). */
  port: number;
  /** Postgres schema whose migrations the init container runs, or null when it owns none. */
  schema: string | null;
  /** Gateway-only parts: admin port, Ingress, route table, Kafka topics hook. */
  gateway: boolean;
  /** Env vars that must come from the existing Secret. */
  requiredSecretEnv: string[];
  /** Verifies JWTs: needs CARVE_JWT_SECRET or CARVE_JWT_PUBLIC_KEY from the Secret. */
  verifiesJwt: boolean;
}

export const LIBRARY_CHART = 'carve-service';

export const DEPLOYABLE_CHARTS: DeployableChart[] = [
  { chart: 'gateway', app: 'gateway', scope: 'gateway', port: 8080, schema: 'carve', gateway: true, requiredSecretEnv: ['DATABASE_URL', 'CARVE_ADMIN_TOKEN'], verifiesJwt: true },
  { chart: 'insights-service', app: 'insights-service', scope: 'insights', port: 3101, schema: 'insights', gateway: false, requiredSecretEnv: ['DATABASE_URL'], verifiesJwt: true },
  { chart: 'legacy-monolith', app: 'legacy-monolith', scope: 'legacy', port: 3000, schema: 'legacy', gateway: false, requiredSecretEnv: ['DATABASE_URL'], verifiesJwt: true },
  { chart: 'relay', app: 'carve-cli', scope: 'shared', port: 9464, schema: null, gateway: false, requiredSecretEnv: ['DATABASE_URL'], verifiesJwt: false },
  { chart: 'roadmaps-service', app: 'roadmaps-service', scope: 'roadmaps', port: 3102, schema: 'roadmaps', gateway: false, requiredSecretEnv: ['DATABASE_URL'], verifiesJwt: true },
];

export function deployable(chart: string): DeployableChart {
  const found = DEPLOYABLE_CHARTS.find((c) => c.chart === chart);
  if (!found) throw new Error(`${chart} is not a deployable chart (${DEPLOYABLE_CHARTS.map((c) => c.chart).join(', ')})`);
  return found;
}

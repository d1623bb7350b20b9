/**
 * The context generator's options, checked against the workspace before anything is written:
 * a bad or taken name, an unknown framework or aggregate, an aggregate another context already
 * carves, or a port in use fails here with one clear message (and the generator writes nothing).
 */
import { getProjects, names, type Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { findAggregate, MONOLITH_AGGREGATES, type MonolithAggregate, NOT_OFFERED } from './aggregates';
import type { ContextGeneratorSchema } from './schema';

export class ContextGeneratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ContextGeneratorError';
  }
}

export const FRAMEWORKS = ['fastify', 'nest'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** Names a context may not take: scopes, schemas and folders that mean something else here. */
export const RESERVED_NAMES = [
  'legacy', 'shared', 'gateway', 'tooling', 'carve', 'monolith', 'relay', 'platform', 'control-plane', 'public',
  'cli', 'build', 'helm', 'kafka', 'bench', 'scripts', 'tools', 'apps', 'libs', 'charts', 'dist', 'tmp', 'test', 'nx',
  'workspace', 'workspaces', 'pg', 'postgres', 'information-schema',
];

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const FIRST_CONTEXT_PORT = 3103;

/** Where the generator reads what is taken. */
export const PATHS = {
  routes: 'apps/gateway/routes/dev.yaml',
  /** The deployed environments' route tables (`<environment>.yaml`). */
  deployedRoutes: 'charts/gateway/routes',
  topics: 'libs/shared/messaging/topics.yaml',
  deployables: 'tools/carve/src/dev/deployables.ts',
  eslint: 'eslint.config.mjs',
  chartCatalogue: 'tools/helm/src/catalogue.ts',
  deployOrder: 'tools/helm/src/deploy.ts',
  gatewayChartProject: 'charts/gateway/project.json',
  reviewSecrets: 'tools/build/ci/review-secrets.sh',
  cliContexts: 'tools/carve/src/carving/contexts.ts',
  lockfile: 'package-lock.json',
  modelChart: 'charts/insights-service',
} as const;

export interface AggregateNames extends MonolithAggregate {
  /** `release` → `Release`. */
  readonly typeClass: string;
  /** `releases` → `Releases`. */
  readonly pluralClass: string;
  /** The service's table: `releases`. */
  readonly table: string;
  /** The context's own topic: `<name>.releases.v1`. */
  readonly ownTopic: string;
  readonly readRoute: string;
  readonly writeRoute: string;
  /** Path pattern in the route table: `/api/v1/workspaces/:workspaceId/releases/*`. */
  readonly pathPattern: string;
  /** Routes for this aggregate already in the dev table, with this context as target (a reserved slot). */
  readonly routesReserved: boolean;
}

export interface ContextOptions {
  /** kebab-case: `customer-success`. */
  readonly name: string;
  /** `CustomerSuccess`. */
  readonly className: string;
  /** `customerSuccess`. */
  readonly propertyName: string;
  /** `CUSTOMER_SUCCESS`. */
  readonly constantName: string;
  /** Postgres schema: `customer_success`. */
  readonly schema: string;
  /** The deployable, app folder and chart: `customer-success-service`. */
  readonly service: string;
  readonly appRoot: string;
  readonly libsRoot: string;
  readonly framework: Framework;
  readonly port: number;
  readonly aggregates: readonly AggregateNames[];
  readonly skipInstall: boolean;
  /** The upstream of the dev route table was already declared (a reserved slot). */
  readonly upstreamReserved: boolean;
}

const fail = (message: string): never => {
  throw new ContextGeneratorError(message);
};

function read(tree: Tree, file: string): string {
  const text = tree.read(file, 'utf-8');
  if (text === null) fail(`${file} is missing: the generator needs it to wire a context (is this the Carve workspace root?)`);
  return text as string;
}

interface DevRouteTable {
  upstreams?: Record<string, { url?: string }>;
  routes?: Array<{ id: string; target?: string; match?: { path?: string } }>;
}

export function readRouteTable(tree: Tree): DevRouteTable {
  return (parse(read(tree, PATHS.routes)) ?? {}) as DevRouteTable;
}

/** Ports already spoken for: carve dev's deployables, the dev upstreams, the chart catalogue. */
export function takenPorts(tree: Tree): Map<number, string> {
  const taken = new Map<number, string>();
  const add = (port: number, what: string) => {
    if (!taken.has(port)) taken.set(port, what);
  };
  const deployables = read(tree, PATHS.deployables);
  for (const m of deployables.matchAll(/name:\s*'([^']+)'[^}]*?\bport:\s*(\d+)(?:[^}]*?\badminPort:\s*(\d+))?/gs)) {
    add(Number(m[2]), `${m[1]} (carve dev)`);
    if (m[3]) add(Number(m[3]), `${m[1]} admin (carve dev)`);
  }
  for (const [up, def] of Object.entries(readRouteTable(tree).upstreams ?? {})) {
    const port = /:(\d+)(?:\/|$)/.exec(def?.url ?? '')?.[1];
    if (port) add(Number(port), `upstream ${up} (${PATHS.routes})`);
  }
  const catalogue = tree.read(PATHS.chartCatalogue, 'utf-8') ?? '';
  for (const m of catalogue.matchAll(/chart:\s*'([^']+)'[^}]*?\bport:\s*(\d+)/g)) add(Number(m[2]), `chart ${m[1]}`);
  return taken;
}

/** The port carve dev already reserves for `<service>`, if any. */
function reservedPort(tree: Tree, service: string): number | undefined {
  const deployables = read(tree, PATHS.deployables);
  const m = new RegExp(`name:\\s*'${service}'[^}]*?\\bport:\\s*(\\d+)`, 's').exec(deployables);
  return m ? Number(m[1]) : undefined;
}

function contextsInUse(tree: Tree): Map<string, string> {
  const used = new Map<string, string>();
  for (const [project, config] of getProjects(tree)) {
    if (config.root.startsWith('charts/')) continue; // a chart can be declared before its context lands
    for (const tag of config.tags ?? []) if (tag.startsWith('scope:')) used.set(tag.slice('scope:'.length), project);
  }
  return used;
}

function parseAggregates(value: ContextGeneratorSchema['aggregates']): string[] {
  const list = (Array.isArray(value) ? value : String(value ?? '').split(','))
    .map((s) => String(s).trim())
    .filter(Boolean);
  if (list.length === 0) fail(`--aggregates needs at least one of: ${MONOLITH_AGGREGATES.map((a) => a.plural).join(', ')}`);
  const seen = new Set<string>();
  for (const a of list) {
    if (seen.has(a)) fail(`--aggregates lists ${a} twice`);
    seen.add(a);
  }
  return list;
}

export function normalizeOptions(tree: Tree, schema: ContextGeneratorSchema): ContextOptions {
  const name = String(schema.name ?? '').trim();
  if (!NAME.test(name)) {
    fail(`"${name}" is not a valid context name: use kebab-case, a lower-case letter first, then letters, digits and single dashes (e.g. billing, customer-success)`);
  }
  if (name.length > 24) fail(`"${name}" is too long for a context name (at most 24 characters: it becomes a schema, roles, a chart and a deployable)`);
  if (RESERVED_NAMES.includes(name)) fail(`"${name}" is reserved in this workspace (${RESERVED_NAMES.join(', ')}); pick the bounded context's own name`);
  if (/-service$/.test(name)) fail(`"${name}": leave out "-service" (the generator names the service ${name}-service)`);

  const framework = (schema.framework ?? 'fastify') as Framework;
  if (!FRAMEWORKS.includes(framework)) fail(`--framework must be fastify or nest, got "${schema.framework}"`);

  const service = `${name}-service`;
  const appRoot = `apps/${service}`;
  const libsRoot = `libs/${name}`;
  if (tree.exists(appRoot)) fail(`the context "${name}" exists already: ${appRoot} is there`);
  if (tree.exists(libsRoot)) fail(`the context "${name}" exists already: ${libsRoot} is there`);
  const inUse = contextsInUse(tree).get(name);
  if (inUse) fail(`the context "${name}" exists already: project ${inUse} has tag scope:${name}`);
  const projects = getProjects(tree);
  for (const p of [service, ...['domain', 'events', 'data-access', 'carving'].map((l) => `${name}-${l}`)]) {
    if (projects.has(p)) fail(`the context "${name}" exists already: there is a project named ${p}`);
  }

  const table = readRouteTable(tree);
  const wanted = parseAggregates(schema.aggregates);
  const aggregates: AggregateNames[] = wanted.map((plural) => {
    const agg = findAggregate(plural);
    if (!agg) {
      const why = NOT_OFFERED[plural];
      fail(why ? `--aggregates ${plural}: ${why}` : `--aggregates ${plural}: the monolith has no such aggregate to carve (offered: ${MONOLITH_AGGREGATES.map((a) => a.plural).join(', ')})`);
    }
    const a = agg as MonolithAggregate;
    const pathPattern = `/api/v1/workspaces/:workspaceId/${a.plural}/*`;
    const readRoute = `${a.plural}-read`;
    const writeRoute = `${a.plural}-write`;
    let routesReserved = false;
    for (const r of table.routes ?? []) {
      const samePath = r.match?.path === pathPattern;
      const sameId = r.id === readRoute || r.id === writeRoute;
      if (!samePath && !sameId) continue;
      if (r.target !== name) fail(`--aggregates ${plural}: route ${r.id} already sends ${r.match?.path ?? 'it'} to "${r.target}" (${PATHS.routes}); another context carves ${plural}`);
      routesReserved = true;
    }
    return {
      ...a,
      typeClass: names(a.type).className,
      pluralClass: names(a.plural).className,
      table: a.plural.replace(/-/g, '_'),
      ownTopic: `${name}.${a.plural}.v1`,
      readRoute,
      writeRoute,
      pathPattern,
      routesReserved,
    };
  });

  const taken = takenPorts(tree);
  const upstream = table.upstreams?.[name];
  const upstreamPort = upstream?.url ? Number(/:(\d+)(?:\/|$)/.exec(upstream.url)?.[1]) : undefined;
  const reserved = reservedPort(tree, service) ?? upstreamPort;
  let port: number;
  if (schema.port !== undefined && schema.port !== null) {
    port = Number(schema.port);
    if (!Number.isInteger(port) || port < 1024 || port > 65535) fail(`--port must be a whole number from 1024 to 65535, got ${schema.port}`);
    const owner = taken.get(port);
    if (owner && port !== reserved) fail(`--port ${port} is taken by ${owner}`);
  } else if (reserved) {
    port = reserved;
  } else {
    port = FIRST_CONTEXT_PORT;
    while (taken.has(port)) port++;
  }
  if (upstreamPort && upstreamPort !== port) fail(`upstream "${name}" in ${PATHS.routes} already points at port ${upstreamPort}, not ${port}`);

  const n = names(name);
  return {
    name,
    className: n.className,
    propertyName: n.propertyName,
    constantName: n.constantName,
    schema: name.replace(/-/g, '_'),
    service,
    appRoot,
    libsRoot,
    framework,
    port,
    aggregates,
    skipInstall: schema.skipInstall === true,
    upstreamReserved: Boolean(upstream),
  };
}

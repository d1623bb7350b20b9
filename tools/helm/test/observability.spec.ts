/**
 * The dashboards and alerts the charts ship: rendered where the values turn them on, every
 * expression valid PromQL, every runbook a section of docs/, and every metric they name exported
 * by the code, as scraped from the running deployables (gateway, a carved service, the relay).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEV_ADMIN_TOKEN } from '@carve/shared-control-plane';
import { DEV_JWT_SECRET, SERVICE_LABEL } from '@carve/shared-http';
import { CARVE_BIN, createTestDatabase, devRoutesFile, freePorts, type Proc, ROOT, startProcess, type TestDatabase, waitFor, waitHealthy } from '@carve/shared-testing';
import { chartEnvironments, Manifest } from '../src';
import { all, only, rendered } from './helpers';
import { alertFiles, alertRules, dashboardFiles, dashboardQueries, exposedSeries, interpolateGrafana, parsePromQL, type Query } from './promql';

/** The charts that ship dashboards or alerts. */
const MONITORED = ['gateway', 'relay'];

/** Staging and production ship them; a review environment (a namespace per merge request) does not. */
const SHIPPED = ['staging', 'production'];
const runs = MONITORED.flatMap((chart) => SHIPPED.map((env) => [chart, env] as const));

describe.each(runs)('%s monitoring rendered for %s', (chart, env) => {
  let manifests: Manifest[];
  beforeAll(() => {
    manifests = rendered(chart, env);
  });

  it('ships every dashboard of the chart in one ConfigMap carrying the Grafana sidecar label', () => {
    const cms = all(manifests, 'ConfigMap').filter((m) => m.metadata.labels?.grafana_dashboard === '1');
    expect(cms.map((m) => m.metadata.name)).toEqual([`${chart}-dashboards`]);
    const files = dashboardFiles(chart);
    expect(files.length).toBeGreaterThan(0);
    expect(Object.keys(cms[0].data).sort()).toEqual(files.map((f) => path.basename(f)).sort());
    for (const f of files) expect(JSON.parse(cms[0].data[path.basename(f)])).toEqual(JSON.parse(fs.readFileSync(f, 'utf8')));
  });

  it('ships every alert of the chart in a PrometheusRule, each with a runbook_url into docs/', () => {
    const rule = only(manifests, 'PrometheusRule');
    expect(rule.metadata.labels).toMatchObject({ release: 'kube-prometheus-stack' });
    const rendered = rule.spec.groups.flatMap((g: any) => g.rules);
    expect(rendered.map((r: any) => r.alert).sort()).toEqual(alertRules(chart).map((r) => r.alert).sort());
    for (const r of rendered) {
      expect(r.annotations.runbook_url).toBe(`docs/${alertRules(chart).find((a) => a.alert === r.alert)!.runbook}`);
      expect(r.annotations.runbook).toBeUndefined();
    }
  });
});

describe('monitoring values', () => {
  it.each(MONITORED.flatMap((chart) => chartEnvironments(chart).filter((e) => !SHIPPED.includes(e)).map((env) => [chart, env] as const)))(
    '%s renders neither dashboards nor alerts for %s',
    (chart, env) => {
      const manifests = rendered(chart, env);
      expect(all(manifests, 'PrometheusRule')).toEqual([]);
      expect(all(manifests, 'ConfigMap').filter((m) => m.metadata.labels?.grafana_dashboard)).toEqual([]);
    },
  );

  it('renders neither dashboards nor alerts when they are off, and prefixes runbookBaseUrl when set', () => {
    const off = rendered('gateway', 'staging', { set: { 'dashboards.enabled': false, 'prometheusRule.enabled': false } });
    expect(all(off, 'PrometheusRule')).toEqual([]);
    expect(all(off, 'ConfigMap').filter((m) => m.metadata.labels?.grafana_dashboard)).toEqual([]);
    const based = rendered('relay', 'production', { set: { 'prometheusRule.runbookBaseUrl': 'https://git.example.com/carve/blob/main/docs/' } });
    const urls = only(based, 'PrometheusRule').spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.annotations.runbook_url));
    expect(urls.length).toBeGreaterThan(0);
    for (const u of urls) expect(u).toMatch(/^https:\/\/git\.example\.com\/carve\/blob\/main\/docs\/runbooks\/[a-z-]+\.md(#[a-z0-9-]+)?$/);
  });

  it('renders nothing for a chart without dashboards or alerts, even when turned on', () => {
    const svc = rendered('insights-service', 'staging', { set: { 'dashboards.enabled': true, 'prometheusRule.enabled': true } });
    expect(all(svc, 'PrometheusRule')).toEqual([]);
    expect(all(svc, 'ConfigMap').filter((m) => m.metadata.labels?.grafana_dashboard)).toEqual([]);
  });
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

const allQueries = (): Query[] =>
  MONITORED.flatMap((chart) => [...dashboardQueries(chart).targets, ...alertRules(chart).map((r) => ({ where: r.where, expr: r.expr }))]);

describe('dashboards and alerts as code', () => {
  it('has the dashboards and alerts the charts promise', () => {
    expect(MONITORED.flatMap(dashboardFiles).map((f) => path.basename(f)).sort()).toEqual(['carving.json', 'event-backbone.json', 'gateway.json']);
    expect(MONITORED.flatMap(alertFiles).length).toBe(2);
    expect(allQueries().length).toBeGreaterThan(30);
  });

  it('every expression of every dashboard panel and alert parses as PromQL', () => {
    const failures = allQueries().flatMap((q) => parsePromQL(interpolateGrafana(q.expr)).errors.map((e) => `${q.where}: ${e}`));
    expect(failures).toEqual([]);
  });

  it('the parser refuses broken PromQL (the check above can fail)', () => {
    expect(parsePromQL('sum(rate(carve_gateway_requests_total[5m]) by').errors).not.toEqual([]);
    expect(parsePromQL('rate(carve_gateway_requests_total{route=~"$route"}[$__rate_interval])').errors).not.toEqual([]);
    expect(parsePromQL(interpolateGrafana('rate(carve_gateway_requests_total{route=~"$route"}[$__rate_interval])'))).toEqual({ errors: [], metrics: ['carve_gateway_requests_total'] });
  });

  it('every runbook an alert names is a file under docs/ with the section it points at', () => {
    for (const r of MONITORED.flatMap(alertRules)) {
      const [file, anchor] = r.runbook.split('#');
      const full = path.join(ROOT, 'docs', file);
      expect({ alert: r.alert, exists: fs.existsSync(full) }).toEqual({ alert: r.alert, exists: true });
      if (anchor) {
        const anchors = [...fs.readFileSync(full, 'utf8').matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1]));
        expect({ alert: r.alert, anchor: anchors.includes(anchor) ? anchor : `missing in ${file}: ${anchor}` }).toEqual({ alert: r.alert, anchor });
      }
    }
  });
});

describe('every metric a dashboard or alert names is exported by the running deployables', () => {
  let db: TestDatabase;
  const procs: Proc[] = [];
  let relay: ChildProcess | undefined;
  const relayOutput: string[] = [];
  let routesFile: string | undefined;
  const scraped = new Map<string, string>();

  beforeAll(async () => {
    db = await createTestDatabase('observability');
    const base = await freePorts(4);
    const [servicePort, gatewayPort, adminPort, relayPort] = [base, base + 1, base + 2, base + 3];
    const env: NodeJS.ProcessEnv = { DATABASE_URL: db.url, CARVE_TRANSPORT: 'postgres', KAFKA_BROKERS: '', LOG_LEVEL: 'warn', PLATFORM: 'local', CARVE_JWT_SECRET: DEV_JWT_SECRET };
    const service = startProcess('insights-service', 'apps/insights-service/src/main.ts', { ...env, PORT: String(servicePort) });
    procs.push(service);
    routesFile = devRoutesFile('observability', { insights: servicePort });
    const gateway = startProcess('gateway', 'apps/gateway/src/main.ts', {
      ...env,
      PORT: String(gatewayPort),
      CARVE_ADMIN_PORT: String(adminPort),
      CARVE_ADMIN_TOKEN: DEV_ADMIN_TOKEN,
      CARVE_ROUTES_FILE: routesFile,
      CARVE_ACCESS_LOG: 'false',
    });
    procs.push(gateway);
    const serviceUrl = `http://127.0.0.1:${servicePort}`;
    await Promise.all([waitHealthy(service, `${serviceUrl}/readyz`, 90_000), waitHealthy(gateway, `http://127.0.0.1:${gatewayPort}/healthz`, 90_000)]);
    // The relay of the service's outbox, as its chart runs it (the schema exists once the service migrated it).
    relay = spawn(process.execPath, [CARVE_BIN, 'relay', '--schema', 'insights', '--transport', 'postgres', '--port', String(relayPort)], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const s of [relay.stdout!, relay.stderr!]) s.on('data', (d: Buffer) => relayOutput.push(d.toString('utf8')));
    const relayUrl = `http://127.0.0.1:${relayPort}`;
    await waitFor(`the relay at ${relayUrl}/metrics (output: ${relayOutput.join('').slice(-500)})`, async () => (await fetch(`${relayUrl}/metrics`).catch(() => null))?.status === 200, 60_000);
    const scrape = async (name: string, url: string, headers: Record<string, string> = {}) => {
      const res = await fetch(url, { headers });
      if (res.status !== 200) throw new Error(`${name}: GET ${url} answered ${res.status}`);
      scraped.set(name, await res.text());
    };
    await scrape('insights-service', `${serviceUrl}/metrics`);
    await scrape('gateway', `http://127.0.0.1:${adminPort}/metrics`, { authorization: `Bearer ${DEV_ADMIN_TOKEN}` });
    await scrape('relay', `${relayUrl}/metrics`);
  }, 180_000);

  afterAll(async () => {
    if (relay && relay.exitCode === null) {
      const gone = new Promise((r) => relay!.once('exit', r));
      relay.kill('SIGTERM');
      await gone;
    }
    for (const p of procs.reverse()) await p.stop().catch(() => undefined);
    if (routesFile) fs.rmSync(routesFile, { force: true });
    await db?.drop();
  }, 60_000);

  it('every metric name in a panel, a variable or an alert is declared on some deployable\'s /metrics', () => {
    const exported = new Set([...scraped.values()].flatMap((text) => [...exposedSeries(text)]));
    const used = [...allQueries(), ...MONITORED.flatMap((c) => dashboardQueries(c).variableMetrics)].flatMap((q) =>
      parsePromQL(interpolateGrafana(q.expr)).metrics.map((metric) => ({ where: q.where, metric })),
    );
    expect(used.length).toBeGreaterThan(30);
    // each process was really scraped: its own metrics are there
    expect(exposedSeries(scraped.get('gateway')!).has('carve_gateway_requests_total')).toBe(true);
    expect(exposedSeries(scraped.get('insights-service')!).has('carve_consumer_lag')).toBe(true);
    expect(exposedSeries(scraped.get('relay')!).has('carve_relay_published_total')).toBe(true);
    expect(exported.has('carve_no_such_metric')).toBe(false);
    expect(used.filter((u) => !exported.has(u.metric))).toEqual([]);
  });

  it(`names the deployable with the ${SERVICE_LABEL} label, never with \`service\` (the ServiceMonitor's own target label)`, () => {
    for (const name of ['insights-service', 'gateway']) {
      const text = scraped.get(name)!;
      expect(text).toMatch(new RegExp(`[{,]${SERVICE_LABEL}="${name}"`));
      expect(text).not.toMatch(/[{,]service="/);
    }
    expect(scraped.get('relay')).not.toMatch(/[{,]service="/);
  });
});

/**
 * The PromQL in the charts' dashboards and alerts, read from the chart files, and parsed by
 * Prometheus' own Lezer grammar (@prometheus-io/lezer-promql, the parser of Prometheus' web UI).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { CHARTS_DIR } from '../src';

export interface Query {
  /** Where it is: `<chart>/<file>: <panel or alert>`. */
  readonly where: string;
  readonly expr: string;
}

const files = (chart: string, dir: string, ext: string): string[] => {
  const full = path.join(CHARTS_DIR, chart, dir);
  return fs.existsSync(full) ? fs.readdirSync(full).filter((f) => f.endsWith(ext)).sort().map((f) => path.join(full, f)) : [];
};

export const dashboardFiles = (chart: string): string[] => files(chart, 'dashboards', '.json');
export const alertFiles = (chart: string): string[] => files(chart, 'alerts', '.yaml');

/** Every panel target of a chart's dashboards, and every label_values(metric, label) of their variables. */
export function dashboardQueries(chart: string): { targets: Query[]; variableMetrics: Query[] } {
  const targets: Query[] = [];
  const variableMetrics: Query[] = [];
  for (const file of dashboardFiles(chart)) {
    const d = JSON.parse(fs.readFileSync(file, 'utf8'));
    const at = `${chart}/dashboards/${path.basename(file)}`;
    for (const p of d.panels ?? []) for (const t of p.targets ?? []) targets.push({ where: `${at}: ${p.title}`, expr: t.expr });
    for (const v of d.templating?.list ?? []) {
      const q = typeof v.query === 'string' ? v.query : v.query?.query;
      const m = /^label_values\((.+),\s*[a-zA-Z_][a-zA-Z0-9_]*\)$/.exec(q ?? '');
      if (m) variableMetrics.push({ where: `${at}: variable ${v.name}`, expr: m[1] });
    }
  }
  return { targets, variableMetrics };
}

export interface AlertRule {
  readonly where: string;
  readonly alert: string;
  readonly expr: string;
  readonly runbook: string;
}

export function alertRules(chart: string): AlertRule[] {
  return alertFiles(chart).flatMap((file) =>
    (parseYaml(fs.readFileSync(file, 'utf8')).groups as any[]).flatMap((g) =>
      (g.rules as any[]).map((r) => ({ where: `${chart}/alerts/${path.basename(file)}: ${r.alert}`, alert: r.alert, expr: r.expr, runbook: r.annotations?.runbook })),
    ),
  );
}

/**
 * What Grafana does before sending a query: its variables replaced (the interval ones by a
 * duration, the others by a regex), so the result is plain PromQL.
 */
export function interpolateGrafana(expr: string): string {
  return expr.replace(/\$__(rate_interval|interval|range)\b/g, '5m').replace(/\$\{?[a-zA-Z_][a-zA-Z0-9_]*\}?/g, '.*');
}

/** Parses a PromQL expression; returns its syntax errors (empty when it parses) and the metric names it selects. */
export function parsePromQL(expr: string): { errors: string[]; metrics: string[] } {
  const tree = parser.parse(expr);
  const errors: string[] = [];
  const metrics: string[] = [];
  tree.iterate({
    enter(node) {
      if (node.type.isError) errors.push(`syntax error at ${node.from}: ${JSON.stringify(expr.slice(Math.max(0, node.from - 20), node.from + 20))}`);
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') metrics.push(expr.slice(node.from, node.to));
      // {__name__="..."} selects by name too
      if (node.name === 'UnquotedLabelMatcher' && /^__name__\s*=\s*"/.test(expr.slice(node.from, node.to))) metrics.push(expr.slice(node.from, node.to).replace(/^__name__\s*=\s*"([^"]*)"$/, '$1'));
    },
  });
  return { errors, metrics };
}

/** Series names a Prometheus text exposition declares (`# TYPE` lines), with a histogram's and summary's own series. */
export function exposedSeries(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)) {
    const [, name, type] = m;
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

/**
 * The context's thin chart (charts/<name>-service) and its image's Dockerfile. The chart follows
 * the model thin chart (charts/insights-service: values per environment, templates/carve.yaml,
 * Chart.lock, project.json) with the names and port swapped; values.schema.json comes from
 * tools/helm's generator and the Dockerfile from tools/build's app template, so both match
 * what their tests expect. A chart reserved ahead of its app (charts/roadmaps-service) is kept
 * and only gains the app as an implicit dependency.
 */
import { renderAppDockerfile } from '@carve/build-tools';
import { type DeployableChart, valuesSchema } from '@carve/helm-tools';
import { type Tree, updateJson } from '@nx/devkit';
import { ContextGeneratorError, type ContextOptions, PATHS } from './options';

const MODEL_SERVICE = 'insights-service';
const MODEL_CONTEXT = 'insights';
const MODEL_PORT = '3101';
const COPIED = ['Chart.lock', 'templates/carve.yaml', 'values.yaml', 'values-staging.yaml', 'values-production.yaml', 'values-review.yaml', 'project.json'];

export function chartEntry(o: ContextOptions): DeployableChart {
  return { chart: o.service, app: o.service, scope: o.name, port: o.port, schema: o.schema, gateway: false, requiredSecretEnv: ['DATABASE_URL'], verifiesJwt: true };
}

function swap(content: string, o: ContextOptions): string {
  return content
    .split(MODEL_SERVICE).join(o.service)
    .replace(/\binsights\b/g, (m) => (m === MODEL_CONTEXT ? o.name : m))
    .replace(/Insights/g, o.className)
    .split(MODEL_PORT).join(String(o.port));
}

export function addChart(tree: Tree, o: ContextOptions): 'created' | 'adopted' {
  const root = `charts/${o.service}`;
  if (tree.exists(`${root}/Chart.yaml`)) {
    if (tree.exists(`${root}/project.json`)) {
      updateJson(tree, `${root}/project.json`, (json) => {
        const deps: string[] = json.implicitDependencies ?? [];
        if (!deps.includes(o.service)) json.implicitDependencies = [o.service, ...deps];
        return json;
      });
    }
    return 'adopted';
  }
  for (const file of COPIED) {
    const content = tree.read(`${PATHS.modelChart}/${file}`, 'utf-8');
    if (content === null) throw new ContextGeneratorError(`${PATHS.modelChart}/${file} is missing: the generator copies the model thin chart from there`);
    tree.write(`${root}/${file}`, swap(content, o));
  }
  const framework = o.framework === 'nest' ? 'NestJS on Fastify' : 'Fastify';
  tree.write(
    `${root}/Chart.yaml`,
    `apiVersion: v2
name: ${o.service}
description: The ${o.name} service (${framework}, schema "${o.schema}"), carved out of the monolith.
type: application
version: 0.1.0
appVersion: "0.1.0"
kubeVersion: ">=1.30.0-0"
dependencies:
  - name: carve-service
    version: 0.1.0
    repository: file://../carve-service
`,
  );
  tree.write(`${root}/values.schema.json`, `${JSON.stringify(valuesSchema(chartEntry(o)), null, 2)}\n`);
  return 'created';
}

export function addDockerfile(tree: Tree, o: ContextOptions): void {
  tree.write(`${o.appRoot}/Dockerfile`, renderAppDockerfile({ name: o.service, root: o.appRoot }, o.port));
}

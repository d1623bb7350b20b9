import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { CHARTS_DIR, Manifest, renderChart, RenderOptions } from '../src';

export function only(manifests: Manifest[], kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}, found ${found.length}`);
  return found[0];
}

export function all(manifests: Manifest[], kind: string): Manifest[] {
  return manifests.filter((m) => m.kind === kind);
}

export function deploymentOf(manifests: Manifest[]): Manifest {
  return only(manifests, 'Deployment');
}

export function appContainer(manifests: Manifest[]): any {
  const containers = deploymentOf(manifests).spec.template.spec.containers;
  expect(containers).toHaveLength(1);
  return containers[0];
}

/** values.yaml merged with values-<env>.yaml (plain deep merge of objects; lists replace). */
export function chartValues(chart: string, env?: string): any {
  const read = (f: string): any => parseYaml(fs.readFileSync(path.join(CHARTS_DIR, chart, f), 'utf8')) ?? {};
  const merge = (a: any, b: any): any => {
    if (b === undefined) return a;
    if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
      const out: any = { ...a };
      for (const [k, v] of Object.entries(b)) out[k] = merge(a[k], v);
      return out;
    }
    return b;
  };
  return env ? merge(read('values.yaml'), read(`values-${env}.yaml`)) : read('values.yaml');
}

const cache = new Map<string, Manifest[]>();
/** Renders once per chart and environment (plain renders only) and hands out copies. */
export function rendered(chart: string, env: string, options?: RenderOptions): Manifest[] {
  if (options) return renderChart(chart, env, options);
  const key = `${chart}/${env}`;
  if (!cache.has(key)) cache.set(key, renderChart(chart, env));
  return structuredClone(cache.get(key)!);
}

export function checksumOf(manifests: Manifest[]): string {
  return deploymentOf(manifests).spec.template.metadata.annotations['checksum/config'];
}

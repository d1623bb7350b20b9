import type { Manifest } from './charts';

export interface ManifestIssue {
  /** `Kind/name (apiVersion)` of the object. */
  object: string;
  errors: string[];
}

type ModelClass = (new (data: unknown) => { validate(): void }) & { apiVersion: string; kind: string };

const API_VERSION = /^(?:([a-z0-9]([-a-z0-9.]*[a-z0-9])?)\/)?(v[0-9]+(?:(?:alpha|beta)[0-9]+)?)$/;
const KIND = /^[A-Z][A-Za-z0-9]*$/;

/**
 * Kinds kubernetes-models has no schema for (custom resources), checked here by hand for the
 * fields the Prometheus Operator rejects an object without.
 */
const CUSTOM: Record<string, (obj: Manifest) => string[]> = {
  'monitoring.coreos.com/v1/ServiceMonitor': (obj) => {
    const errors: string[] = [];
    const spec = obj.spec;
    if (!spec || typeof spec !== 'object') return ['spec is required'];
    if (!spec.selector || typeof spec.selector !== 'object') errors.push('spec.selector is required');
    if (!Array.isArray(spec.endpoints) || spec.endpoints.length === 0) errors.push('spec.endpoints must be a non-empty array');
    else
      spec.endpoints.forEach((e: any, i: number) => {
        if (typeof e?.port !== 'string' && typeof e?.targetPort === 'undefined') errors.push(`spec.endpoints[${i}] needs a port name`);
        if (e?.interval !== undefined && !/^([0-9]+(ms|s|m|h))+$/.test(String(e.interval))) errors.push(`spec.endpoints[${i}].interval is not a duration`);
      });
    return errors;
  },
  'monitoring.coreos.com/v1/PrometheusRule': (obj) => {
    const errors: string[] = [];
    const groups = obj.spec?.groups;
    if (!Array.isArray(groups) || groups.length === 0) return ['spec.groups must be a non-empty array'];
    const stringMap = (v: unknown) => v === undefined || (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'string'));
    const names = new Set<string>();
    groups.forEach((g: any, i: number) => {
      if (typeof g?.name !== 'string' || g.name === '') errors.push(`spec.groups[${i}].name is required`);
      else if (names.has(g.name)) errors.push(`spec.groups[${i}].name "${g.name}" is not unique`);
      names.add(g?.name);
      if (!Array.isArray(g?.rules) || g.rules.length === 0) errors.push(`spec.groups[${i}].rules must be a non-empty array`);
      else
        g.rules.forEach((r: any, j: number) => {
          const at = `spec.groups[${i}].rules[${j}]`;
          if ((typeof r?.alert === 'string') === (typeof r?.record === 'string')) errors.push(`${at} needs exactly one of alert and record`);
          if (typeof r?.expr !== 'string' || r.expr.trim() === '') errors.push(`${at}.expr is required`);
          if (r?.for !== undefined && !/^([0-9]+(ms|s|m|h|d|w|y))+$/.test(String(r.for))) errors.push(`${at}.for is not a duration`);
          if (!stringMap(r?.labels)) errors.push(`${at}.labels must map names to strings`);
          if (!stringMap(r?.annotations)) errors.push(`${at}.annotations must map names to strings`);
        });
    });
    return errors;
  },
};

const modelCache = new Map<string, ModelClass | null>();

/** The kubernetes-models class for an apiVersion and kind, or null when it has none. */
export function modelFor(apiVersion: string, kind: string): ModelClass | null {
  const key = `${apiVersion}/${kind}`;
  if (modelCache.has(key)) return modelCache.get(key)!;
  let model: ModelClass | null = null;
  if (API_VERSION.test(apiVersion) && KIND.test(kind)) {
    try {
      // kubernetes-models lays its modules out as <group>/<version> (core: v1).
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const mod = require(`kubernetes-models/${apiVersion}`) as Record<string, ModelClass>;
      const candidate = mod[kind];
      if (typeof candidate === 'function' && candidate.apiVersion === apiVersion && candidate.kind === kind) model = candidate;
    } catch {
      model = null;
    }
  }
  modelCache.set(key, model);
  return model;
}

function describe(obj: Partial<Manifest>): string {
  return `${obj?.kind ?? '?'}/${obj?.metadata?.name ?? '?'} (${obj?.apiVersion ?? 'no apiVersion'})`;
}

/**
 * Validates each object against the Kubernetes schema for its apiVersion and kind (through
 * kubernetes-models, `new Kind(obj).validate()`), and custom resources against the checks
 * above. An object whose kind has no schema at all is an issue too. Returns [] when all pass.
 * (kubernetes-models does not reject unknown fields; the chart tests assert on the fields.)
 */
export function validateManifests(objects: Array<Partial<Manifest>>): ManifestIssue[] {
  const issues: ManifestIssue[] = [];
  for (const obj of objects) {
    const object = describe(obj);
    if (!obj || typeof obj !== 'object' || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
      issues.push({ object, errors: ['apiVersion and kind are required'] });
      continue;
    }
    if (typeof obj.metadata?.name !== 'string' || obj.metadata.name === '') {
      issues.push({ object, errors: ['metadata.name is required'] });
      continue;
    }
    const custom = CUSTOM[`${obj.apiVersion}/${obj.kind}`];
    if (custom) {
      const errors = custom(obj as Manifest);
      if (errors.length > 0) issues.push({ object, errors });
      continue;
    }
    const Model = modelFor(obj.apiVersion, obj.kind);
    if (!Model) {
      issues.push({ object, errors: [`no schema for ${obj.apiVersion} ${obj.kind} (a typo in apiVersion or kind?)`] });
      continue;
    }
    try {
      new Model(obj).validate();
    } catch (err) {
      const e = err as { message?: string; errors?: Array<{ instancePath?: string; message?: string }> };
      const errors = Array.isArray(e.errors) && e.errors.length > 0
        ? e.errors.map((x) => `${x.instancePath || '/'} ${x.message ?? 'is invalid'}`)
        : [e.message ?? String(err)];
      issues.push({ object, errors });
    }
  }
  return issues;
}

export function formatIssues(issues: ManifestIssue[]): string {
  return issues.map((i) => `${i.object}:\n${i.errors.map((e) => `  - ${e}`).join('\n')}`).join('\n');
}

/**
 * The route table's JSON Schema checked by ajv, with ajv's errors said in words people can act on
 * (what is wrong, what was found, did you mean).
 */
import Ajv2020, { type ErrorObject } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { Problem } from './route-table.errors';
import { routeTableSchema, type RouteTableDoc } from './route-table.schema';

// ---------------------------------------------------------------------------------------------
// Schema validation, with messages people can act on
// ---------------------------------------------------------------------------------------------

export const ajv = new Ajv2020({ allErrors: true, strict: true, verbose: true });
addFormats(ajv, ['uri']);
export const validateShape = ajv.compile<RouteTableDoc>(routeTableSchema);

const show = (v: unknown) => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
};

const describeValue = (v: unknown) => {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${show(v)}`;
};

const NAME_RULE = 'must start with a letter or digit and use only letters, digits, ".", "_" and "-"';
const PATTERN_MESSAGES: Record<string, string> = {
  id: NAME_RULE,
  stickyBy: 'must be tenant, user, none or header:<name>',
  window: 'must be a duration like 500ms, 30s, 5m or 1h',
  path: 'must start with "/"',
  health: 'must start with "/"',
  url: 'must be an http:// or https:// URL',
};

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length][b.length];
}

export function didYouMean(word: string, options: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best}"?)` : '';
}

/** The instance path as segments, with array indices as numbers. */
function instanceSegs(instancePath: string, root: unknown): Array<string | number> {
  const segs: Array<string | number> = [];
  let node: unknown = root;
  for (const raw of instancePath.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      segs.push(Number(key));
      node = node[Number(key)];
    } else {
      segs.push(key);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return segs;
}

export function schemaProblems(errors: readonly ErrorObject[], root: unknown): Problem[] {
  const out: Problem[] = [];
  for (const e of errors) {
    const segs = instanceSegs(e.instancePath, root);
    const parent = (e.parentSchema ?? {}) as Record<string, any>;
    const last = segs[segs.length - 1];
    const got = `, got ${describeValue(e.data)}`;
    switch (e.keyword) {
      case 'propertyNames':
        break; // the nested error that explains it is reported on its own
      case 'required':
        out.push({ segs: [...segs, e.params.missingProperty], message: 'is required' });
        break;
      case 'additionalProperties': {
        const allowed = Object.keys(parent.properties ?? {});
        out.push({
          segs: [...segs, e.params.additionalProperty],
          message: `is not a known property${didYouMean(e.params.additionalProperty, allowed)}; known here: ${allowed.join(', ')}`,
        });
        break;
      }
      case 'enum':
        out.push({ segs, message: `must be one of ${(e.params.allowedValues as unknown[]).join(', ')}${got}` });
        break;
      case 'type': {
        const t = String(e.params.type);
        const want = t === 'object' ? 'a mapping' : t === 'array' ? 'a list' : t === 'integer' ? 'an integer' : `a ${t}`;
        out.push({ segs, message: `must be ${want}${got}` });
        break;
      }
      case 'minimum':
      case 'maximum':
        out.push({
          segs,
          message:
            parent.minimum !== undefined && parent.maximum !== undefined
              ? `must be between ${parent.minimum} and ${parent.maximum}${got}`
              : `must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${e.params.limit}${got}`,
        });
        break;
      case 'pattern':
      case 'format':
      case 'maxLength':
        if (e.propertyName !== undefined) {
          out.push({ segs: [...segs, e.propertyName], message: `name ${show(e.propertyName)} ${NAME_RULE}` });
        } else {
          const friendly = typeof last === 'string' ? PATTERN_MESSAGES[last] : undefined;
          out.push({ segs, message: `${friendly ?? e.message ?? 'is not valid'}${got}` });
        }
        break;
      case 'uniqueItems':
        out.push({ segs, message: `lists ${show((e.data as unknown[])[e.params.j])} twice` });
        break;
      case 'minLength':
        out.push({ segs, message: 'must not be empty' });
        break;
      case 'minProperties':
        out.push({ segs, message: last === 'upstreams' ? 'must name at least one upstream' : `${e.message}` });
        break;
      default:
        out.push({ segs, message: e.message ?? `fails ${e.keyword}` });
    }
  }
  return out;
}


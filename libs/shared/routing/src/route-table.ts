/**
 * Parsing a route table: the YAML read with positions, each route's shape against the schema
 * (its problems in English: route-table.messages), the checks across fields and routes
 * (route-table.checks) and the compiled, frozen table with its matcher (route-table.compile,
 * route-table.model). Every problem carries its line and column.
 */
import { LineCounter, parseDocument, type Document } from 'yaml';
import { RouteMatcher, type MatcherEntry } from './matcher';
import { rankOf, type PathPattern } from './path-pattern';
import { routeTableSchema, type RouteDoc } from './route-table.schema';
import { type Checkable, checkTable, type Prepared } from './route-table.checks';
import { assembleTable, compileRoute, deepFreeze } from './route-table.compile';
import { ajv, didYouMean, schemaProblems, validateShape } from './route-table.messages';
import { type Locate, type Problem, type Segs, toErrors } from './route-table.errors';
import { DEFAULT_UPSTREAM_BODY_LIMIT, type RouteTableResult } from './route-table.model';

export * from './route-table.model';
export { formatPath } from './route-table.errors';
export { assembleTable, withMode } from './route-table.compile';

const validateRouteShape = ajv.getSchema<RouteDoc>(`${routeTableSchema.$id}#/$defs/route`)!;

const isRecord = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** The parts of an invalid file that are sound enough for the checks across fields. */
function salvage(input: unknown): Checkable | undefined {
  if (!isRecord(input) || !isRecord(input.upstreams) || typeof input.default !== 'string') return undefined;
  const routes = Array.isArray(input.routes) ? input.routes : [];
  return {
    upstreams: Object.keys(input.upstreams),
    default: input.default,
    routes: routes.flatMap((doc: unknown, index) => (validateRouteShape(doc) ? [{ doc: doc as RouteDoc, index }] : [])),
  };
}

/** Errors in file order: the top-level fields, then route by route. */
function inFileOrder(problems: Problem[]): Problem[] {
  const order = (p: Problem) => (p.segs[0] === 'routes' && typeof p.segs[1] === 'number' ? p.segs[1] + 1 : 0);
  return problems.map((p, i) => ({ p, i })).sort((a, b) => order(a.p) - order(b.p) || a.i - b.i).map(({ p }) => p);
}

function validate(input: unknown, locate?: Locate): RouteTableResult {
  if (!validateShape(input)) {
    // Report the shape errors together with the cross-field errors of the sound parts, so one
    // round trip shows a typo and an unknown upstream alike.
    const problems = schemaProblems(validateShape.errors ?? [], input);
    const sound = salvage(input);
    if (sound) {
      problems.push(...checkTable(sound).problems);
      // A route with a shape error still gets its target checked.
      const checked = new Set(sound.routes.map((r) => r.index));
      ((input as { routes?: unknown }).routes as unknown[] | undefined)?.forEach?.((r, index) => {
        const target = isRecord(r) ? r.target : undefined;
        if (checked.has(index) || typeof target !== 'string' || sound.upstreams.includes(target)) return;
        problems.push({ segs: ['routes', index, 'target'], message: `names no upstream: "${target}"${didYouMean(target, sound.upstreams)}; upstreams: ${sound.upstreams.join(', ')}` });
      });
    }
    return { ok: false, errors: toErrors(inFileOrder(problems), locate) };
  }
  const doc = deepFreeze(structuredClone(input));
  const { problems, warnings, prepared } = checkTable({
    upstreams: Object.keys(doc.upstreams),
    bodyLimits: Object.fromEntries(Object.entries(doc.upstreams).map(([name, u]) => [name, u.bodyLimitBytes ?? DEFAULT_UPSTREAM_BODY_LIMIT])),
    default: doc.default,
    routes: (doc.routes ?? []).map((r, index) => ({ doc: r, index })),
  });
  if (problems.length > 0) return { ok: false, errors: toErrors(inFileOrder(problems), locate) };
  const withPatterns = prepared as Array<Prepared & { pattern: PathPattern }>;
  const routes = withPatterns.map((p) => compileRoute(p, doc));
  const entries: MatcherEntry[] = routes.map((r, i) => ({
    pattern: withPatterns[i].pattern,
    methods: new Set<string>(r.methods),
    headers: Object.entries(r.headers),
    query: Object.entries(r.query),
    rank: rankOf(r.specificity),
  }));
  const table = assembleTable(doc, routes, new RouteMatcher(entries), []);
  return { ok: true, table, warnings: toErrors(warnings, locate) };
}

/**
 * Checks a route table given as data (already parsed from YAML or JSON) against the schema and
 * the rules across fields, and compiles it: a frozen table with its matcher, or every error
 * found. The input is not modified.
 */
export function validateRouteTable(input: unknown): RouteTableResult {
  return validate(input);
}

/**
 * Parses a route table from YAML (JSON is YAML too) and validates it. Errors carry the line and
 * column of the offending node.
 */
export function parseRouteTable(text: string): RouteTableResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // The first syntax error is the one to fix; later ones are usually its echoes.
    const e = doc.errors[0];
    const pos = lineCounter.linePos(e.pos[0]);
    const src = text.split('\n')[pos.line - 1] ?? '';
    const hint = /\[[^\]]*\$[.[]/.test(src)
      ? "; quote JSONPath expressions inside [ ] lists, e.g. ignore: ['$.items[*].updatedAt'], or write them as a block list"
      : '';
    return { ok: false, errors: [{ path: '', message: `YAML: ${e.message}${hint}`, line: pos.line, column: pos.col }] };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, errors: [{ path: '', message: `YAML: ${(err as Error).message}` }] };
  }
  return validate(value, (segs) => locate(doc, lineCounter, segs));
}

function locate(doc: Document, lineCounter: LineCounter, segs: Segs): { line: number; column: number } | undefined {
  for (let n = segs.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (range) {
      const pos = lineCounter.linePos(range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return undefined;
}

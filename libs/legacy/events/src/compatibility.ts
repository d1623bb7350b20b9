/**
 * The rule for changing a contract within a major version: the new schema must still accept
 * every event written under the old one. In practice: add optional fields only. A removed
 * field, a newly required one, a changed type, a removed enum value or a tightened constraint
 * needs a new major version, published on a new topic (`legacy.notes.v2`) beside the old one.
 */

type Schema = Record<string, any>;

const IGNORED = new Set(['description', 'title', 'examples', '$comment', 'default']);
const CONSTRAINTS = ['format', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minItems', 'maxItems', 'const', 'multipleOf'];

function typesOf(s: Schema): string[] {
  if (s.type === undefined) return [];
  return (Array.isArray(s.type) ? s.type : [s.type]).slice().sort();
}

const stable = (v: unknown): string =>
  JSON.stringify(v, (_k, x) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).filter(([k]) => !IGNORED.has(k)).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );

/**
 * What in `next` would reject events valid under `prev` (empty when `next` only widened it).
 * Paths are JSON pointers into the event's data.
 */
export function compatibilityProblems(prev: Schema, next: Schema, path = ''): string[] {
  const at = path || '/';
  const out: string[] = [];

  if (prev.anyOf || next.anyOf) {
    const before = (prev.anyOf ?? [prev]).map(stable);
    const after = new Set((next.anyOf ?? [next]).map(stable));
    for (const [i, option] of before.entries()) {
      if (!after.has(option)) out.push(`${at}: the alternative ${JSON.stringify((prev.anyOf ?? [prev])[i])} is no longer accepted`);
    }
    return out;
  }

  const tPrev = typesOf(prev);
  const tNext = typesOf(next);
  if (tNext.length > 0 && tPrev.some((t) => !tNext.includes(t) && !(t === 'integer' && tNext.includes('number')))) {
    return [`${at}: type changed from ${tPrev.join('|') || 'any'} to ${tNext.join('|')}`];
  }

  if (Array.isArray(next.enum)) {
    const removed = Array.isArray(prev.enum) ? prev.enum.filter((v: unknown) => !next.enum.includes(v)) : ['(any value)'];
    if (removed.length > 0) out.push(`${at}: enum no longer accepts ${removed.map((v: unknown) => JSON.stringify(v)).join(', ')}`);
  }
  for (const k of CONSTRAINTS) {
    if (next[k] !== undefined && stable(next[k]) !== stable(prev[k])) {
      out.push(`${at}: constraint ${k} changed from ${JSON.stringify(prev[k])} to ${JSON.stringify(next[k])}`);
    }
  }

  if (tPrev.includes('object') || prev.properties) {
    const pProps: Schema = prev.properties ?? {};
    const nProps: Schema = next.properties ?? {};
    const pReq = new Set<string>(prev.required ?? []);
    for (const name of Object.keys(pProps)) {
      if (!(name in nProps)) {
        out.push(`${path}/${name}: field removed`);
        continue;
      }
      out.push(...compatibilityProblems(pProps[name], nProps[name], `${path}/${name}`));
    }
    for (const name of next.required ?? []) {
      if (!pReq.has(name)) out.push(`${path}/${name}: field is now required (old events lack it)`);
    }
    if (next.additionalProperties === false && prev.additionalProperties !== false) out.push(`${at}: additionalProperties is now false`);
  }

  if (prev.items && next.items) out.push(...compatibilityProblems(prev.items, next.items, `${path}/items`));
  return out;
}

/** The one-line verdict the compatibility test prints for a breaking change. */
export function breakingChangeMessage(type: string, major: number, topic: string, problems: string[]): string {
  const nextTopic = topic.replace(/\.v\d+$/, `.v${major + 1}`);
  return `${type} v${major}: ${problems.join('; ')}. Old events would no longer validate: bump the major and the topic (${type} ${major + 1}.0 on ${nextTopic}), keeping v${major} until its consumers have moved.`;
}

import type { Static, TSchema } from '@sinclair/typebox';
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/** The topic source of the roadmaps-service's events (and the schema of its outbox). */
export const ROADMAPS_SOURCE = 'roadmaps';
/**
 * The `origin` of every change first written by the roadmaps-service. Its forward sync skips
 * events with this origin (its own changes coming back through the monolith): no loops.
 */
export const ROADMAPS_ORIGIN = 'roadmaps-service';

/** One event of the service: type, version, topic and the JSON Schema of its `data` (an EventContractRef of @carve/shared-messaging). */
export interface RoadmapsEventContract<S extends TSchema = TSchema> {
  readonly type: string;
  /** `<major>.<minor>`: a minor only adds optional fields; anything else is a new major and topic. */
  readonly version: string;
  readonly source: typeof ROADMAPS_SOURCE;
  readonly aggregateType: string;
  readonly topic: string;
  readonly schema: S;
  readonly __data?: Static<S>;
}

export function majorOf(version: string): number {
  return Number(version.split('.')[0]);
}

export function defineRoadmapsEvent<S extends TSchema>(def: { aggregateType: string; action: string; version: string; topic: string; schema: S }): RoadmapsEventContract<S> {
  if (!/^\d+\.\d+$/.test(def.version)) throw new TypeError(`version must be <major>.<minor>, got ${def.version}`);
  if (!def.topic.startsWith(`${ROADMAPS_SOURCE}.`)) throw new TypeError(`topic ${def.topic} must start with ${ROADMAPS_SOURCE}.`);
  if (!def.topic.endsWith(`.v${majorOf(def.version)}`)) throw new TypeError(`topic ${def.topic} does not carry major ${majorOf(def.version)}`);
  return Object.freeze({
    type: `${def.aggregateType}.${def.action}`,
    version: def.version,
    source: ROADMAPS_SOURCE,
    aggregateType: def.aggregateType,
    topic: def.topic,
    schema: def.schema,
  });
}

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const compiled = new WeakMap<object, ValidateFunction>();

/** Checks `data` against a contract's schema: null, or what is wrong in one line. */
export function validateRoadmapsData(contract: RoadmapsEventContract, data: unknown): string | null {
  let fn = compiled.get(contract.schema);
  if (!fn) {
    fn = ajv.compile(contract.schema);
    compiled.set(contract.schema, fn);
  }
  if (fn(data)) return null;
  return (fn.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
}

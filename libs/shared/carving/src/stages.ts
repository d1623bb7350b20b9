/**
 * The stages of carving one context (docs/runbooks/carving-a-context.md), which moves
 * are allowed, and what each stage means for the gateway's routes and for the ownership of
 * writes. Pure: no I/O.
 *
 * | stage           | read routes        | write routes | writes owned by |
 * | --------------- | ------------------ | ------------ | --------------- |
 * | created         | monolith           | monolith     | monolith        |
 * | backfilled      | monolith           | monolith     | monolith        |
 * | shadow          | shadow             | monolith     | monolith        |
 * | canary (P %)    | canary P           | monolith     | monolith        |
 * | reads-switched  | service            | monolith     | monolith        |
 * | writes-switched | service            | service      | service         |
 * | complete        | service            | service      | service         |
 */

import { CARVING_STAGES, type CarvingStage } from '@carve/shared-kernel';

/** The stages in order: the kernel's list, the one every context's domain uses. */
export const STAGES = CARVING_STAGES;
export type Stage = CarvingStage;

export type Owner = 'monolith' | 'service';
export type RouteKind = 'read' | 'write';
export type RouteMode = 'monolith' | 'shadow' | 'canary' | 'service';

export interface RouteSetting {
  readonly mode: RouteMode;
  /** Only for mode canary. */
  readonly percent?: number;
}

export function isStage(value: unknown): value is Stage {
  return (STAGES as readonly unknown[]).includes(value);
}

export const stageIndex = (s: Stage): number => STAGES.indexOf(s);

/** Who owns the context's writes at this stage: the service from `writes-switched` on. */
export function ownerAt(stage: Stage): Owner {
  return stageIndex(stage) >= stageIndex('writes-switched') ? 'service' : 'monolith';
}

/** The mode (and canary percent) every route of one kind must have at a stage. */
export function routeSettingFor(stage: Stage, kind: RouteKind, percent?: number | null): RouteSetting {
  if (kind === 'write') return { mode: ownerAt(stage) === 'service' ? 'service' : 'monolith' };
  switch (stage) {
    case 'created':
    case 'backfilled':
      return { mode: 'monolith' };
    case 'shadow':
      return { mode: 'shadow' };
    case 'canary':
      return { mode: 'canary', percent: percent ?? 0 };
    default:
      return { mode: 'service' };
  }
}

/** What moves a context from one stage to another. */
export type StageCommand = 'backfill' | 'stage' | 'cutover' | 'rollback';

export interface TransitionCheck {
  readonly ok: boolean;
  /** Why not, in one line, when refused. */
  readonly reason?: string;
  /** What to do instead, when refused. */
  readonly hint?: string;
}

const READ_STAGES: readonly Stage[] = ['backfilled', 'shadow', 'canary', 'reads-switched'];

/**
 * Whether `carve stage` (or backfill, cutover) may move a context from `from` to `to`.
 *
 * - the backfill completes `created` (or re-confirms `backfilled`);
 * - forward, one step at a time: backfilled → shadow → canary → reads-switched; a canary may
 *   change its percent (canary → canary); every stage may be re-applied (its routes are set again);
 * - backward among the read stages (reads-switched → canary → shadow) at any time: the monolith
 *   still owns writes, so nothing can be lost;
 * - reads-switched → writes-switched only by `carve cutover --writes` (after a fresh verify);
 * - writes-switched → complete after the soak time;
 * - `carve rollback` goes from anywhere back to backfilled (or created, if never backfilled).
 */
export function checkTransition(from: Stage, to: Stage, command: StageCommand): TransitionCheck {
  const refuse = (reason: string, hint?: string): TransitionCheck => ({ ok: false, reason, hint });
  if (command === 'rollback') {
    const target: Stage = from === 'created' ? 'created' : 'backfilled';
    return to === target ? { ok: true } : refuse(`a rollback from ${from} goes to ${target}, not ${to}`);
  }
  if (command === 'backfill') {
    if (to !== 'backfilled') return refuse(`a backfill ends in stage backfilled, not ${to}`);
    if (from === 'created' || READ_STAGES.includes(from)) return { ok: true };
    return refuse(
      `the service owns the writes (stage ${from}): backfilling from the monolith now could overwrite them`,
      'the monolith is no longer the source of truth; roll back first (`carve rollback <context>`) if you really need a backfill',
    );
  }
  if (command === 'cutover') {
    if (to !== 'writes-switched') return refuse(`a cutover goes to writes-switched, not ${to}`);
    if (from === 'writes-switched') return { ok: true };
    if (from !== 'reads-switched') {
      return refuse(`writes can only be cut over from reads-switched, and the context is at ${from}`, 'move the reads first: `carve stage <context> reads`');
    }
    return { ok: true };
  }
  // command === 'stage'
  if (to === 'created' || to === 'backfilled') {
    return refuse(`\`carve stage\` does not go to ${to}`, to === 'backfilled' ? 'run `carve backfill <context>`' : 'use `carve rollback <context>`');
  }
  if (to === 'writes-switched') return refuse('writes move with `carve cutover <context> --writes` (it verifies first)', 'run `carve cutover <context> --writes`');
  if (to === 'complete') {
    if (from === 'writes-switched' || from === 'complete') return { ok: true };
    return refuse(`a context is complete only after its writes were switched (it is at ${from})`, 'run `carve cutover <context> --writes` first');
  }
  // to is a read stage: shadow, canary or reads-switched
  if (from === 'created') return refuse('nothing was backfilled yet', 'run `carve backfill <context>`, then `carve verify <context>`');
  if (ownerAt(from) === 'service') {
    return refuse(`the service owns the writes (stage ${from}); moving reads back alone is not a rollback`, 'use `carve rollback <context>`: it waits for the reverse sync, then moves everything');
  }
  const fi = stageIndex(from);
  const ti = stageIndex(to);
  if (ti <= fi) return { ok: true }; // the same stage again, or back among the read stages
  if (ti === fi + 1) return { ok: true };
  const next = STAGES[fi + 1];
  return refuse(`from ${from} the next stage is ${next}, not ${to}`, `go one step at a time: \`carve stage <context> ${stageArg(next)}\``);
}

/** The `carve stage` argument naming a stage (`reads` for reads-switched). */
export function stageArg(stage: Stage): string {
  return stage === 'reads-switched' ? 'reads' : stage;
}

/** Parses a `carve stage` argument: shadow, canary, reads (or reads-switched), complete. */
export function parseStageArg(arg: string): Stage | undefined {
  const a = arg.trim().toLowerCase();
  if (a === 'reads' || a === 'reads-switched') return 'reads-switched';
  if (a === 'shadow' || a === 'canary' || a === 'complete') return a;
  return undefined;
}

/** Where a rollback from `from` lands. */
export function rollbackTarget(from: Stage): Stage {
  return from === 'created' ? 'created' : 'backfilled';
}

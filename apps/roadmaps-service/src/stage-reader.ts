/**
 * Who owns the context's writes: its carving stage in the control plane (`carve.context_stages`,
 * context `roadmaps`), read through a tiny cache. From `writes-switched` on the service is the
 * source of truth; before that a write that reaches it is refused with 409 `not_source_of_truth`.
 * If the control plane cannot be read, the last known stage is kept for `graceMs`, then writes
 * get 503 `control_plane_unavailable` (refusing is safe; guessing is not). No table or no row
 * means the context is not being carved yet: stage `created`.
 */
import { ROADMAPS_CONTEXT, serviceOwnsWrites } from '@carve/roadmaps-domain';
import { ProblemError } from '@carve/shared-http';
import { Pool } from 'pg';

export interface StageReader {
  /** The current stage (cached), `created` when none is recorded. */
  stage(): Promise<string>;
  ownsWrites(): Promise<boolean>;
  /** Forget the cached value. */
  invalidate(): void;
  close(): Promise<void>;
}

export interface StageReaderOptions {
  url: string;
  ttlMs?: number;
  graceMs?: number;
  now?: () => number;
}

export function createStageReader(opts: StageReaderOptions): StageReader {
  const pool = new Pool({ connectionString: opts.url, max: 2, application_name: 'roadmaps-service-stage', connectionTimeoutMillis: 3000, idleTimeoutMillis: 30_000 });
  pool.on('error', () => undefined);
  const ttlMs = opts.ttlMs ?? 1000;
  const graceMs = opts.graceMs ?? 30_000;
  const now = opts.now ?? Date.now;
  let cached: { stage: string; at: number } | undefined;
  let inFlight: Promise<string> | undefined;

  const read = async (): Promise<string> => {
    try {
      const { rows } = await pool.query<{ stage: string }>('SELECT stage FROM carve.context_stages WHERE context = $1', [ROADMAPS_CONTEXT]);
      const stage = rows[0]?.stage ?? 'created';
      cached = { stage, at: now() };
      return stage;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '42P01' || code === '3F000') {
        cached = { stage: 'created', at: now() }; // no control plane yet: nothing is being carved
        return 'created';
      }
      if (cached && now() - cached.at < graceMs) return cached.stage;
      throw new ProblemError(503, 'control_plane_unavailable', 'The carving stage cannot be read from the control plane; try again shortly.');
    }
  };

  const reader: StageReader = {
    async stage() {
      if (cached && now() - cached.at < ttlMs) return cached.stage;
      inFlight ??= read().finally(() => (inFlight = undefined));
      return inFlight;
    },
    async ownsWrites() {
      return serviceOwnsWrites(await reader.stage());
    },
    invalidate() {
      cached = undefined;
    },
    close: () => pool.end().catch(() => undefined),
  };
  return reader;
}

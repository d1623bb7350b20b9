/**
 * Where each carve stands, on the gateway's /metrics, read from the control plane when the
 * registry is scraped (every replica reports the same truth; dashboards take the max, and so
 * does the sum of a gateway's workers, aggregator `max`):
 *
 * - `carve_carving_stage{context, stage}`: 1 for the context's stage, 0 for the others;
 * - `carve_carving_workspaces{context, stage}`: workspaces at a stage of their own;
 * - `carve_carving_handover_open{context, scope, phase}`: 1 per handover not yet done or undone;
 * - `carve_carving_handover_fence_open_seconds{context, scope}`: how long an open handover has
 *   held the write fence (0 before it fenced);
 * - `carve_carving_handover_last_fence_seconds{context}`: the fence window of the context's
 *   last finished handover;
 * - `carve_carving_verify_drifted{context}`: workspaces the context's last verify found drifted;
 * - `carve_carving_verify_last_run_timestamp_seconds{context}`: when that verify finished.
 *
 * A failing or slow query keeps the last values and never fails the scrape.
 */
import { CARVING_STAGES } from '@carve/shared-kernel';
import type { Pool } from 'pg';
import { Gauge, type Registry } from 'prom-client';

const REFRESH_TIMEOUT_MS = 2000;

interface Logger {
  warn(obj: object, msg: string): void;
}

export function installCarvingMetrics(registry: Registry, pool: Pool, log: Logger): void {
  let inflight: Promise<void> | undefined;
  // Every gauge's collect waits for the same refresh: one round of queries per scrape.
  const refresh = (): Promise<void> => (inflight ??= load().finally(() => (inflight = undefined)));
  const registers = [registry];
  const collect = async () => {
    await refresh();
  };
  const stage = new Gauge({ name: 'carve_carving_stage', help: "Each context's stage: 1 for the stage it is at, 0 for the others", labelNames: ['context', 'stage'] as const, registers, collect, aggregator: 'max' });
  const workspaces = new Gauge({ name: 'carve_carving_workspaces', help: 'Workspaces at a stage of their own (per-tenant carving), by context and stage', labelNames: ['context', 'stage'] as const, registers, collect, aggregator: 'max' });
  const open = new Gauge({ name: 'carve_carving_handover_open', help: 'Handovers not yet done or undone (1 each), by context, scope (* or a workspace) and phase', labelNames: ['context', 'scope', 'phase'] as const, registers, collect, aggregator: 'max' });
  const fenceOpen = new Gauge({ name: 'carve_carving_handover_fence_open_seconds', help: 'How long an open handover has held the write fence (0 before it fenced)', labelNames: ['context', 'scope'] as const, registers, collect, aggregator: 'max' });
  const lastFence = new Gauge({ name: 'carve_carving_handover_last_fence_seconds', help: "The write fence window of the context's last finished handover", labelNames: ['context'] as const, registers, collect, aggregator: 'max' });
  const drifted = new Gauge({ name: 'carve_carving_verify_drifted', help: "Workspaces the context's last verify found drifted (0: none)", labelNames: ['context'] as const, registers, collect, aggregator: 'max' });
  const verifiedAt = new Gauge({ name: 'carve_carving_verify_last_run_timestamp_seconds', help: "When the context's last verify finished (Unix seconds)", labelNames: ['context'] as const, registers, collect, aggregator: 'max' });

  async function load(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const [stages, ws, handovers, fences, verifies] = await Promise.race([
        Promise.all([
          pool.query<{ context: string; stage: string }>('SELECT context, stage FROM carve.context_stages'),
          pool.query<{ context: string; stage: string; n: string }>('SELECT context, stage, count(*) AS n FROM carve.workspace_stages GROUP BY context, stage'),
          pool.query<{ context: string; scope: string; phase: string; fenced: number }>(
            `SELECT context, scope, phase, coalesce(extract(epoch FROM clock_timestamp() - fenced_at), 0)::float8 AS fenced
               FROM carve.handovers WHERE phase NOT IN ('done', 'undone')`,
          ),
          pool.query<{ context: string; fence_ms: number }>(
            `SELECT DISTINCT ON (context) context, fence_ms FROM carve.handovers
              WHERE phase IN ('done', 'undone') AND fence_ms IS NOT NULL ORDER BY context, finished_at DESC NULLS LAST`,
          ),
          pool.query<{ context: string; drifted: number; at: number }>(
            'SELECT DISTINCT ON (context) context, drifted, extract(epoch FROM finished_at)::float8 AS at FROM carve.verify_runs ORDER BY context, id DESC',
          ),
        ]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`control plane did not answer within ${REFRESH_TIMEOUT_MS} ms`)), REFRESH_TIMEOUT_MS);
        }),
      ]);
      for (const g of [stage, workspaces, open, fenceOpen, lastFence, drifted, verifiedAt]) g.reset();
      for (const r of stages.rows) for (const s of CARVING_STAGES) stage.set({ context: r.context, stage: s }, s === r.stage ? 1 : 0);
      for (const r of ws.rows) workspaces.set({ context: r.context, stage: r.stage }, Number(r.n));
      for (const r of handovers.rows) {
        open.set({ context: r.context, scope: r.scope, phase: r.phase }, 1);
        fenceOpen.set({ context: r.context, scope: r.scope }, r.fenced);
      }
      for (const r of fences.rows) lastFence.set({ context: r.context }, r.fence_ms / 1000);
      for (const r of verifies.rows) {
        drifted.set({ context: r.context }, r.drifted);
        verifiedAt.set({ context: r.context }, r.at);
      }
    } catch (err) {
      log.warn({ err }, 'carving metrics: control plane not read; the last values stand');
    } finally {
      clearTimeout(timer);
    }
  }
}

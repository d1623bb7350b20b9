/**
 * What each gateway replica serves (`carve.gateway_replicas`): reported by every replica at
 * start, at each heartbeat and whenever its route table changes; read by the carving commands
 * (a route is moved to the service only when every live replica serves it) and `carve status`
 * (do the replicas agree?). A replica is live when it reported within `liveWithinMs`.
 */
import type { Pool } from 'pg';

/** A replica not seen for this long is not live (three missed heartbeats of the default 5 s). */
export const DEFAULT_REPLICA_LIVE_MS = 15_000;

export interface GatewayReplicaReport {
  /** The gateway's id (CARVE_GATEWAY_ID: the pod name on kubernetes). */
  readonly replicaId: string;
  readonly hostname: string;
  readonly pid: number;
  /** Hash of the route table file it serves. */
  readonly tableHash: string;
  /** Every route id its table defines. */
  readonly routeIds: readonly string[];
  /** The control-plane version whose overrides it applied. */
  readonly controlVersion: number;
  readonly startedAt: string;
}

export interface GatewayReplica extends GatewayReplicaReport {
  readonly lastSeen: string;
  /** Milliseconds since it last reported (by the database's clock). */
  readonly ageMs: number;
  readonly live: boolean;
}

/** Whether the live replicas serve the same table (hash and route ids), and at which control versions. */
export interface ReplicaAgreement {
  readonly live: number;
  /** Every live replica serves the same table file (hash) with the same route ids. */
  readonly agree: boolean;
  /** Every live replica applied the same control-plane version (false for a moment after each change). */
  readonly sameControlVersion: boolean;
  readonly tableHashes: readonly string[];
  readonly controlVersions: readonly number[];
  /** Route ids some live replica serves and another does not. */
  readonly routesNotEverywhere: readonly string[];
}

/** Inserts or refreshes this replica's row (last_seen = now()). */
export async function reportGatewayReplica(pool: Pool, r: GatewayReplicaReport): Promise<void> {
  await pool.query(
    `INSERT INTO carve.gateway_replicas (replica_id, hostname, pid, table_hash, route_ids, control_version, started_at, last_seen)
          VALUES ($1, $2, $3, $4, $5, $6, $7, now())
     ON CONFLICT (replica_id) DO UPDATE SET
          hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, table_hash = EXCLUDED.table_hash, route_ids = EXCLUDED.route_ids,
          control_version = EXCLUDED.control_version, started_at = EXCLUDED.started_at, last_seen = now()`,
    [r.replicaId, r.hostname, r.pid, r.tableHash, [...r.routeIds], r.controlVersion, r.startedAt],
  );
}

/** Forgets replicas not seen for `olderThanMs` (killed without stopping cleanly); returns how many. */
export async function pruneGatewayReplicas(pool: Pool, olderThanMs: number): Promise<number> {
  const r = await pool.query(`DELETE FROM carve.gateway_replicas WHERE last_seen < now() - make_interval(secs => $1::double precision / 1000)`, [olderThanMs]);
  return r.rowCount ?? 0;
}

/** A replica that stops cleanly removes its row: it serves nothing any more. */
export async function removeGatewayReplica(pool: Pool, replicaId: string): Promise<void> {
  await pool.query('DELETE FROM carve.gateway_replicas WHERE replica_id = $1', [replicaId]);
}

/** Every replica that reported (by id), with whether it is live. */
export async function listGatewayReplicas(pool: Pool, options: { liveWithinMs?: number } = {}): Promise<GatewayReplica[]> {
  const liveMs = options.liveWithinMs ?? DEFAULT_REPLICA_LIVE_MS;
  const r = await pool.query(
    `SELECT *, (extract(epoch FROM now() - last_seen) * 1000)::bigint AS age_ms FROM carve.gateway_replicas ORDER BY replica_id`,
  );
  return r.rows.map((row) => {
    const ageMs = Math.max(0, Number(row.age_ms));
    return {
      replicaId: row.replica_id,
      hostname: row.hostname,
      pid: Number(row.pid),
      tableHash: row.table_hash,
      routeIds: row.route_ids as string[],
      controlVersion: Number(row.control_version),
      startedAt: new Date(row.started_at).toISOString(),
      lastSeen: new Date(row.last_seen).toISOString(),
      ageMs,
      live: ageMs <= liveMs,
    };
  });
}

export function replicaAgreement(replicas: readonly GatewayReplica[]): ReplicaAgreement {
  const live = replicas.filter((r) => r.live);
  const tableHashes = [...new Set(live.map((r) => r.tableHash))].sort();
  const controlVersions = [...new Set(live.map((r) => r.controlVersion))].sort((a, b) => a - b);
  const all = new Set(live.flatMap((r) => r.routeIds));
  const routesNotEverywhere = [...all].filter((id) => live.some((r) => !r.routeIds.includes(id))).sort();
  return {
    live: live.length,
    agree: tableHashes.length <= 1 && routesNotEverywhere.length === 0,
    sameControlVersion: controlVersions.length <= 1,
    tableHashes,
    controlVersions,
    routesNotEverywhere,
  };
}

/** The live replicas that do not serve `routeId`. */
export function replicasMissing(replicas: readonly GatewayReplica[], routeId: string): GatewayReplica[] {
  return replicas.filter((r) => r.live && !r.routeIds.includes(routeId));
}

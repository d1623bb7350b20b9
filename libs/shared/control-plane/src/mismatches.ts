/**
 * Shadow mismatches kept to be browsed, counts per field path, and the noise baseline.
 *
 * - A sample is stored, its route's per-path counts raised and the route's samples trimmed in
 *   one statement: the latest `keep` samples per route and none older than `keepForMs`. Counts
 *   per path outlive the samples they came from.
 * - Samples are read newest first in pages: filtered by field path and time, continued with
 *   the `nextCursor` of the previous page (the last id seen, so pages stay stable while new
 *   samples arrive).
 * - Noise: per route and field path, how often two answers of the monolith to one request
 *   differed there. Paths are stored as the gateway gives them (normalised: array indexes and
 *   array keys as `*`).
 */
import type { Pool } from 'pg';
import { iso } from '@carve/shared-kernel';
import type { MismatchInput, ShadowMismatch } from './types';

export interface MismatchRetention {
  /** Latest samples kept per route. */
  readonly keep: number;
  /** Samples older than this are deleted when the route gets a new one. */
  readonly keepForMs: number;
}

export interface MismatchQuery {
  readonly routeId?: string;
  /** Only samples that differ in this (normalised) field path. */
  readonly path?: string;
  /** Only samples stored at or after this instant. */
  readonly since?: Date;
  /** Only samples stored before this instant. */
  readonly until?: Date;
  readonly limit?: number;
  /** The `nextCursor` of the previous page. */
  readonly cursor?: string;
}

export interface MismatchPage {
  readonly items: ShadowMismatch[];
  /** Pass as `cursor` for the next (older) page; null when this page is the last. */
  readonly nextCursor: string | null;
}

export interface FieldPathCount {
  readonly routeId: string;
  readonly path: string;
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
}

/** A cursor that is not one this module handed out. */
export class MismatchCursorError extends Error {
  constructor(readonly cursor: string) {
    super(`cursor ${JSON.stringify(cursor)} is not one a previous page returned`);
    this.name = 'MismatchCursorError';
  }
}

export async function insertMismatch(pool: Pool, input: MismatchInput, retention: MismatchRetention): Promise<ShadowMismatch> {
  const paths = [...new Set(input.paths ?? input.differences.map((d) => String((d as { path?: unknown })?.path ?? '')))].filter((p) => p !== '');
  const r = await pool.query(
    `WITH ins AS (
       INSERT INTO carve.shadow_mismatches (route_id, request, monolith_status, service_status, differences, truncated, gateway, paths, bodies)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::text[], $11::jsonb) RETURNING *
     ), counted AS (
       INSERT INTO carve.shadow_mismatch_paths AS c (route_id, path, count, first_seen, last_seen)
            SELECT ins.route_id, p, 1, ins.at, ins.at FROM ins, unnest($8::text[]) AS p
       ON CONFLICT (route_id, path) DO UPDATE SET count = c.count + 1, last_seen = EXCLUDED.last_seen
     ), trimmed AS (
       DELETE FROM carve.shadow_mismatches
        WHERE route_id = $1
          AND (at < now() - $10 * interval '1 millisecond'
               OR id <= (SELECT id FROM carve.shadow_mismatches WHERE route_id = $1 ORDER BY id DESC OFFSET $9 LIMIT 1))
     )
     SELECT * FROM ins`,
    [
      input.routeId,
      JSON.stringify(input.request),
      input.monolithStatus ?? null,
      input.serviceStatus ?? null,
      JSON.stringify(input.differences, jsonSafe),
      input.truncated ?? false,
      input.gateway ?? null,
      paths,
      // The statement sees the samples before its insert: keep - 1 of them plus the new one.
      Math.max(0, retention.keep - 1),
      retention.keepForMs,
      input.bodies ? JSON.stringify(input.bodies, jsonSafe) : null,
    ],
  );
  return toMismatch(r.rows[0]);
}

export async function queryMismatches(pool: Pool, q: MismatchQuery, limit: number): Promise<MismatchPage> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (q.routeId !== undefined) add((n) => `route_id = ${n}`, q.routeId);
  if (q.path !== undefined) add((n) => `paths @> ARRAY[${n}::text]`, q.path);
  if (q.since !== undefined) add((n) => `at >= ${n}`, q.since);
  if (q.until !== undefined) add((n) => `at < ${n}`, q.until);
  if (q.cursor !== undefined) add((n) => `id < ${n}`, decodeCursor(q.cursor));
  params.push(limit + 1);
  const r = await pool.query(
    `SELECT * FROM carve.shadow_mismatches ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  const items = r.rows.slice(0, limit).map(toMismatch);
  return { items, nextCursor: r.rows.length > limit ? encodeCursor(items[items.length - 1].id) : null };
}

export async function mismatchPathCounts(pool: Pool, routeId: string): Promise<FieldPathCount[]> {
  const r = await pool.query('SELECT * FROM carve.shadow_mismatch_paths WHERE route_id = $1 ORDER BY count DESC, path', [routeId]);
  return r.rows.map(toPathCount);
}

/** Adds `counts` (path → times two monolith answers differed there) to a route's noise. */
export async function addNoise(pool: Pool, routeId: string, counts: ReadonlyMap<string, number>): Promise<void> {
  if (counts.size === 0) return;
  await pool.query(
    `INSERT INTO carve.shadow_noise AS n (route_id, path, count, first_seen, last_seen)
          SELECT $1, p, c, now(), now() FROM unnest($2::text[], $3::bigint[]) AS u(p, c)
     ON CONFLICT (route_id, path) DO UPDATE SET count = n.count + EXCLUDED.count, last_seen = EXCLUDED.last_seen`,
    [routeId, [...counts.keys()], [...counts.values()]],
  );
}

/** The noise learned on a route (every route when none is given), most frequent first. */
export async function noisePaths(pool: Pool, routeId?: string): Promise<FieldPathCount[]> {
  const r = routeId
    ? await pool.query('SELECT * FROM carve.shadow_noise WHERE route_id = $1 ORDER BY count DESC, path', [routeId])
    : await pool.query('SELECT * FROM carve.shadow_noise ORDER BY route_id, count DESC, path');
  return r.rows.map(toPathCount);
}

function encodeCursor(id: number): string {
  return Buffer.from(`m:${id}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const m = /^m:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw new MismatchCursorError(cursor);
  return Number(m[1]);
}

function toPathCount(row: any): FieldPathCount {
  return { routeId: row.route_id, path: row.path, count: Number(row.count), firstSeen: iso(row.first_seen), lastSeen: iso(row.last_seen) };
}

function toMismatch(row: any): ShadowMismatch {
  return {
    id: Number(row.id),
    routeId: row.route_id,
    at: iso(row.at),
    request: row.request,
    monolithStatus: row.monolith_status,
    serviceStatus: row.service_status,
    differences: row.differences,
    truncated: row.truncated,
    gateway: row.gateway,
    paths: row.paths ?? [],
    bodies: row.bodies ?? null,
  };
}

/** JSON.stringify replacer: values JSON cannot hold (undefined, bigint) survive as strings. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined) return null;
  return value;
}

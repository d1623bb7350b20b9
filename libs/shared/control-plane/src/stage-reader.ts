/**
 * Who owns a carved context's writes: its carving stage in the control plane
 * (`carve.context_stages`), read through a tiny cache. The context says which stages give its
 * service the writes (`ownsWrites`, from its domain: from `writes-switched` on); before that a
 * write that reaches the service is refused by the service with 409 `not_source_of_truth`.
 *
 * The cache trusts a read for `ttlMs`; concurrent requests share one query. If the control plane
 * cannot be read, the last known stage is kept for `graceMs`, then the read throws 503
 * `control_plane_unavailable` (refusing is safe; guessing is not). No table or no row means the
 * context is not being carved yet: stage `created`.
 */
import { ProblemError } from '@carve/shared-http';
import { Pool } from 'pg';

export interface StageReader {
  /** The current stage (cached), `created` when none is recorded. */
  stage(): Promise<string>;
  ownsWrites(): Promise<boolean>;
  /** Forget the cached value (tests, or after a change this process made). */
  invalidate(): void;
  close(): Promise<void>;
}

export interface ContextStageReaderOptions {
  /** The database holding schema `carve`. */
  url: string;
  /** The context's name in the control plane, e.g. `insights`. */
  context: string;
  /** The context's rule: whether its service owns the writes at `stage`. */
  ownsWrites: (stage: string) => boolean;
  /** Postgres `application_name` of the reader's pool, e.g. `insights-service-stage`. */
  applicationName: string;
  ttlMs?: number;
  graceMs?: number;
  now?: () => number;
}

export class ContextStageReader implements StageReader {
  private readonly pool: Pool;
  private readonly ttlMs: number;
  private readonly graceMs: number;
  private readonly now: () => number;
  private cached: { stage: string; at: number } | undefined;
  private inFlight: Promise<string> | undefined;

  constructor(private readonly opts: ContextStageReaderOptions) {
    this.pool = new Pool({ connectionString: opts.url, max: 2, application_name: opts.applicationName, connectionTimeoutMillis: 3000, idleTimeoutMillis: 30_000 });
    this.pool.on('error', () => undefined);
    this.ttlMs = opts.ttlMs ?? 1000;
    this.graceMs = opts.graceMs ?? 30_000;
    this.now = opts.now ?? Date.now;
  }

  stage = async (): Promise<string> => {
    if (this.cached && this.now() - this.cached.at < this.ttlMs) return this.cached.stage;
    this.inFlight ??= this.read().finally(() => (this.inFlight = undefined));
    return this.inFlight;
  };

  ownsWrites = async (): Promise<boolean> => this.opts.ownsWrites(await this.stage());

  invalidate = (): void => {
    this.cached = undefined;
  };

  close = (): Promise<void> => this.pool.end().catch(() => undefined);

  private async read(): Promise<string> {
    try {
      const { rows } = await this.pool.query<{ stage: string }>('SELECT stage FROM carve.context_stages WHERE context = $1', [this.opts.context]);
      const stage = rows[0]?.stage ?? 'created';
      this.cached = { stage, at: this.now() };
      return stage;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === '42P01' || code === '3F000') {
        this.cached = { stage: 'created', at: this.now() }; // no control plane yet: nothing is being carved
        return 'created';
      }
      if (this.cached && this.now() - this.cached.at < this.graceMs) return this.cached.stage;
      throw new ProblemError(503, 'control_plane_unavailable', 'The carving stage cannot be read from the control plane; try again shortly.');
    }
  }
}

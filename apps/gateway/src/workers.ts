/**
 * The gateway on several cores (CARVE_GATEWAY_WORKERS > 1): main.ts becomes a primary that forks
 * that many workers with node:cluster, each running `startGateway` with the same configuration
 * on the same ports (the proxy port and the admin port).
 *
 * - Scheduling: SCHED_NONE. Every worker accepts on the shared listening socket and the kernel
 *   hands each new connection to one of them; connections never pass through the primary.
 *   A keep-alive connection stays on the worker that accepted it.
 * - The primary serves no request. It restarts a worker that exits (after a backoff that doubles
 *   from RESTART_MIN_MS to RESTART_MAX_MS and starts over once a worker has stayed up for
 *   RESTART_RESET_MS), except while shutting down, and except when a worker fails before any
 *   worker ever became ready: then the gateway cannot start (a bad route file, a port in use,
 *   the control plane not migrated) and the primary stops the others and exits with its code.
 * - SIGTERM or SIGINT to the primary: it sends SIGTERM to every worker (each drains: readiness
 *   off, requests in flight finish) and exits once all are gone, 0 when every worker exited 0.
 *   A second signal kills them (SIGKILL) and exits 1. Workers ignore SIGINT (a terminal's
 *   Ctrl-C reaches the whole process group; the primary relays it as SIGTERM, once).
 * - Metrics: a worker's admin GET /metrics asks the primary, which collects the registry of
 *   every ready worker (getMetricsAsJSON) and sums them with prom-client's
 *   AggregatorRegistry.aggregate (each metric's `aggregator`: sum, or max for the gauges of a
 *   state): one scrape sees the whole gateway, whichever worker took it.
 */
import cluster, { type Worker } from 'node:cluster';
import { type Logger, PARENT_PID_ENV, watchParent } from '@carve/shared-http';
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';

export const RESTART_MIN_MS = 100;
export const RESTART_MAX_MS = 10_000;
export const RESTART_RESET_MS = 30_000;
/** How long the primary waits for the workers' metrics, and a worker for the primary's answer. */
const METRICS_TIMEOUT_MS = 5000;
/** Past the workers' own shutdown deadline (installGracefulShutdown, 25 s): the primary kills them. */
const SHUTDOWN_DEADLINE_MS = 30_000;
/** The exit code of a bad configuration (main.ts): a worker that exits with it is not restarted. */
const CONFIG_EXIT = 78;

/** Set by the primary on each worker: its slot, 0..N-1 (a restarted worker keeps its slot's). */
export const WORKER_INDEX_ENV = 'CARVE_GATEWAY_WORKER_INDEX';

type ToWorker = { type: 'carve:metrics-collect'; id: number } | { type: 'carve:metrics-text'; id: number; text?: string; error?: string };
type ToPrimary = { type: 'carve:ready' } | { type: 'carve:metrics-request'; id: number } | { type: 'carve:metrics-json'; id: number; metrics: MetricObjectWithValues<MetricValue<string>>[] };

const isMessage = (m: unknown): m is { type: string } => typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string';

interface Slot {
  readonly index: number;
  worker: Worker | null;
  ready: boolean;
  startedAt: number;
  restarts: number;
  timer: NodeJS.Timeout | null;
}

export interface PrimaryOptions {
  readonly workers: number;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Ends the primary (default process.exit). */
  readonly exit?: (code: number) => void;
}

/** Runs the primary: forks the workers and supervises them until a signal stops them all. */
export function runPrimary(opts: PrimaryOptions): void {
  const { log } = opts;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  // Before the first fork: the policy is frozen from then on.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({});

  const slots: Slot[] = Array.from({ length: opts.workers }, (_, index) => ({ index, worker: null, ready: false, startedAt: 0, restarts: 0, timer: null }));
  let everReady = false;
  let stopping = false;
  let failedCode = 0;
  let deadline: NodeJS.Timeout | null = null;

  const slotOf = (w: Worker) => slots.find((s) => s.worker === w);
  const live = () => slots.filter((s) => s.worker !== null);

  // The metrics of every ready worker, summed: requests from the workers' admin APIs.
  let nextCollect = 0;
  const collecting = new Map<number, { pending: Set<number>; parts: MetricObjectWithValues<MetricValue<string>>[][]; done: () => void }>();
  const collect = (): Promise<string> => {
    const id = nextCollect++;
    const targets = slots.filter((s) => s.ready && s.worker?.isConnected()).map((s) => s.worker!);
    const parts: MetricObjectWithValues<MetricValue<string>>[][] = [];
    return new Promise<void>((resolve) => {
      const pending = new Set(targets.map((w) => w.id));
      const timer = setTimeout(() => {
        log.warn({ workers: [...pending] }, 'gateway primary: workers did not send their metrics in time; the scrape has the others');
        finish();
      }, METRICS_TIMEOUT_MS);
      const finish = () => {
        clearTimeout(timer);
        collecting.delete(id);
        resolve();
      };
      collecting.set(id, { pending, parts, done: finish });
      for (const w of targets) w.send({ type: 'carve:metrics-collect', id } satisfies ToWorker);
      if (pending.size === 0) finish();
    }).then(() => AggregatorRegistry.aggregate(parts).metrics());
  };

  const fork = (slot: Slot) => {
    slot.timer = null;
    slot.ready = false;
    slot.startedAt = Date.now();
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(slot.index) });
    slot.worker = worker;
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      const msg = m as ToPrimary;
      if (msg.type === 'carve:ready') {
        slot.ready = true;
        everReady = true;
        log.info({ worker: slot.index, pid: worker.process.pid }, `gateway worker ${slot.index} ready (pid ${worker.process.pid})`);
      } else if (msg.type === 'carve:metrics-json') {
        const c = collecting.get(msg.id);
        if (!c || !c.pending.delete(worker.id)) return;
        c.parts.push(msg.metrics);
        if (c.pending.size === 0) c.done();
      } else if (msg.type === 'carve:metrics-request') {
        collect().then(
          (text) => worker.isConnected() && worker.send({ type: 'carve:metrics-text', id: msg.id, text } satisfies ToWorker),
          (err: Error) => worker.isConnected() && worker.send({ type: 'carve:metrics-text', id: msg.id, error: err.message } satisfies ToWorker),
        );
      }
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const slot = slotOf(worker);
    if (!slot) return;
    slot.worker = null;
    slot.ready = false;
    for (const c of collecting.values()) if (c.pending.delete(worker.id) && c.pending.size === 0) c.done();
    const pid = worker.process.pid;
    if (stopping) {
      // Our SIGTERM can end a worker still booting (before its handler): not a failure.
      if (code !== 0 && signal !== 'SIGTERM' && failedCode === 0) failedCode = 1;
      log.info({ worker: slot.index, pid, code, signal }, `gateway worker ${slot.index} (pid ${pid}) stopped`);
      if (live().length === 0) finishShutdown();
      return;
    }
    if (!everReady && code !== 0) {
      // The gateway cannot start: the others would fail the same way.
      log.error({ worker: slot.index, pid, code, signal }, `gateway worker ${slot.index} (pid ${pid}) failed to start; stopping`);
      failedCode = code === CONFIG_EXIT ? CONFIG_EXIT : (code ?? 1) || 1;
      beginShutdown(failedCode);
      return;
    }
    if (Date.now() - slot.startedAt >= RESTART_RESET_MS) slot.restarts = 0;
    const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** slot.restarts);
    slot.restarts++;
    log.warn({ worker: slot.index, pid, code, signal, restartInMs: delay, restarts: slot.restarts }, `gateway worker ${slot.index} (pid ${pid}) exited (${signal ?? `code ${code}`}); restarting it in ${delay} ms`);
    slot.timer = setTimeout(() => fork(slot), delay);
  });

  const finishShutdown = () => {
    if (deadline) clearTimeout(deadline);
    log.info({ code: failedCode }, 'gateway primary: every worker is gone; exiting');
    exit(failedCode);
  };

  const beginShutdown = (code = 0) => {
    if (stopping) return;
    stopping = true;
    failedCode = code;
    for (const s of slots) {
      if (s.timer) clearTimeout(s.timer);
      s.timer = null;
    }
    deadline = setTimeout(() => {
      log.error({ deadlineMs: SHUTDOWN_DEADLINE_MS }, 'gateway primary: workers still running past the deadline; killing them');
      for (const s of live()) s.worker!.process.kill('SIGKILL');
      exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    for (const s of live()) s.worker!.process.kill('SIGTERM');
    if (live().length === 0) finishShutdown();
  };

  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      log.info({ signal }, 'gateway primary: second signal; killing the workers');
      for (const s of live()) s.worker!.process.kill('SIGKILL');
      exit(1);
      return;
    }
    log.info({ signal, workers: live().length }, 'gateway primary: shutting down; the workers drain');
    beginShutdown();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  // A supervisor (`carve dev`) that disappears stops the gateway, as for a single process.
  const parentPid = Number(process.env[PARENT_PID_ENV]) || undefined;
  if (parentPid) {
    watchParent(parentPid, () => {
      if (stopping) return;
      log.info({ parentPid }, 'gateway primary: the supervising process is gone');
      beginShutdown();
    });
  }

  log.info({ workers: opts.workers, pid: process.pid }, `gateway primary (pid ${process.pid}): starting ${opts.workers} workers`);
  for (const s of slots) fork(s);
}

/** In a worker: its slot, set by the primary. */
export function workerIndex(): number {
  return Number(process.env[WORKER_INDEX_ENV] ?? 0);
}

/**
 * A worker's side of the primary's channel: it answers the primary's collections with its
 * registry (none until `ready`), and `metricsText` asks the primary for every worker's metrics.
 */
export class WorkerChannel {
  private registry: Registry | null = null;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (t: string) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();

  constructor() {
    process.on('message', (m: unknown) => {
      if (!isMessage(m)) return;
      const msg = m as ToWorker;
      if (msg.type === 'carve:metrics-collect') {
        const registry = this.registry;
        void (registry ? registry.getMetricsAsJSON() : Promise.resolve([])).then(
          (metrics) => this.send({ type: 'carve:metrics-json', id: msg.id, metrics: metrics as MetricObjectWithValues<MetricValue<string>>[] }),
          () => this.send({ type: 'carve:metrics-json', id: msg.id, metrics: [] }),
        );
      } else if (msg.type === 'carve:metrics-text') {
        const w = this.waiting.get(msg.id);
        if (!w) return;
        this.waiting.delete(msg.id);
        clearTimeout(w.timer);
        if (msg.error !== undefined || msg.text === undefined) w.reject(new Error(`the gateway's metrics could not be collected: ${msg.error ?? 'no answer'}`));
        else w.resolve(msg.text);
      }
    });
  }

  /** This worker serves: its registry joins the collections, and the primary knows it is up. */
  ready(registry: Registry): void {
    this.registry = registry;
    this.send({ type: 'carve:ready' });
  }

  /** The metrics of every worker, summed by the primary. */
  readonly metricsText = (): Promise<string> =>
    new Promise<string>((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`the primary did not send the gateway's metrics within ${METRICS_TIMEOUT_MS * 2} ms`));
      }, METRICS_TIMEOUT_MS * 2);
      this.waiting.set(id, { resolve, reject, timer });
      this.send({ type: 'carve:metrics-request', id });
    });

  private send(msg: ToPrimary): void {
    if (process.connected) process.send!(msg);
  }
}

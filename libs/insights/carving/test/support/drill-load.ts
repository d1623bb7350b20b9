import { setTimeout as sleep } from 'node:timers/promises';
/**
 * The drill's steady mixed load through the gateway: a few workers at a fixed pace (about
 * `ratePerSecond` requests a second in all), 70% reads (a list page, one note nobody writes) and 30%
 * writes: creates, renames of the worker's own notes, and PAIRS of PATCHes sent at the same
 * moment to the same hot note (the race a split owner loses a write in).
 *
 * A write the gateway answers 503 `write_fenced` or 409 `not_source_of_truth` (both carry
 * Retry-After: a handover is moving the writes) is sent again, as a client honouring Retry-After
 * would (after 100 ms here, to keep the drill short); every other answer is final. Every
 * acknowledged write is kept with the version the answer gave, so the final state of each note
 * can be checked on both sides: the acknowledged write with the highest version must be what
 * both databases hold.
 */
export interface DrillWorkspace {
  readonly id: string;
  readonly token: string;
  /** Notes every worker PATCHes (the hot ones). */
  readonly hot: readonly string[];
  /**
   * Notes only read, among the oldest of the workspace (the first list page sorted by createdAt
   * holds only them): what a shadow compares must not be moving under it, or the guard would
   * rightly see the sync lag as mismatches.
   */
  readonly cold: readonly string[];
  readonly featureId: string;
}

export interface Ack {
  readonly noteId: string;
  readonly workspaceId: string;
  readonly title: string;
  readonly version: number;
}

export interface DrillLoad {
  /** Per note, the acknowledged write with the highest version. */
  readonly latest: Map<string, Ack>;
  /** Writes acknowledged twice at the same version of one note (a split owner): must stay empty. */
  readonly sameVersion: Array<{ noteId: string; version: number; titles: [string, string] }>;
  /** Final answers that were neither a success nor a retried refusal, by `status code`. */
  readonly unexpected: Map<string, number>;
  /** How many writes were refused by a fence (then retried), by code. */
  readonly refused: Map<string, number>;
  readonly counts: { reads: number; writes: number; acked: number };
  /** Acknowledged writes per workspace id. */
  readonly ackedBy: Map<string, number>;
  stop(): Promise<void>;
}

interface Answer {
  status: number;
  body: any;
}


export function startDrillLoad(opts: { gatewayUrl: string; workspaces: readonly DrillWorkspace[]; ratePerSecond?: number; workers?: number; label: string }): DrillLoad {
  const workers = opts.workers ?? 3;
  const interval = (1000 * workers) / (opts.ratePerSecond ?? 50);
  const latest = new Map<string, Ack>();
  const seenVersion = new Map<string, string>();
  const sameVersion: DrillLoad['sameVersion'] = [];
  const unexpected = new Map<string, number>();
  const refused = new Map<string, number>();
  const counts = { reads: 0, writes: 0, acked: 0 };
  const ackedBy = new Map<string, number>();
  const own = new Map<string, string[]>(opts.workspaces.map((w) => [w.id, []]));
  let stop = false;
  let seq = 0;
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  const call = async (method: string, url: string, token: string, body?: unknown): Promise<Answer> => {
    try {
      const res = await fetch(`${opts.gatewayUrl}${url}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    } catch (err) {
      return { status: 0, body: { code: (err as Error).name } };
    }
  };

  const record = (w: DrillWorkspace, res: Answer) => {
    const note = res.body;
    counts.acked += 1;
    bump(ackedBy, w.id);
    const key = `${note.id}@${note.version}`;
    const other = seenVersion.get(key);
    if (other !== undefined && other !== note.title) sameVersion.push({ noteId: note.id, version: note.version, titles: [other, note.title] });
    seenVersion.set(key, note.title);
    const prev = latest.get(note.id);
    if (!prev || prev.version < note.version) latest.set(note.id, { noteId: note.id, workspaceId: w.id, title: note.title, version: note.version });
  };

  const write = async (w: DrillWorkspace, method: string, url: string, body: unknown): Promise<Answer> => {
    counts.writes += 1;
    for (let attempt = 1; ; attempt++) {
      const res = await call(method, url, w.token, body);
      const code = res.body?.code;
      const fenced = (res.status === 503 && code === 'write_fenced') || (res.status === 409 && code === 'not_source_of_truth');
      if (fenced && attempt < 100) {
        bump(refused, `${res.status} ${code}`);
        await sleep(100);
        continue;
      }
      if (res.status >= 200 && res.status < 300) record(w, res);
      else bump(unexpected, `${method} ${res.status} ${code ?? ''}`.trim());
      return res;
    }
  };

  const read = async (w: DrillWorkspace, url: string) => {
    counts.reads += 1;
    const res = await call('GET', url, w.token);
    if (res.status !== 200) bump(unexpected, `GET ${res.status} ${res.body?.code ?? ''}`.trim());
  };

  const worker = async (k: number) => {
    let next = Date.now() + k * (interval / workers);
    while (!stop) {
      const n = ++seq;
      const w = opts.workspaces[n % opts.workspaces.length];
      const base = `/api/v1/workspaces/${w.id}/notes`;
      const hot = w.hot[n % w.hot.length];
      const r = n % 10;
      if (r < 4) await read(w, `${base}?sort=createdAt&limit=10`);
      else if (r < 7) await read(w, `${base}/${w.cold[n % w.cold.length]}`);
      else if (r === 7) {
        const res = await write(w, 'POST', base, {
          title: `${opts.label} created ${n}`,
          content: 'written by the drill',
          source: 'manual',
          customer: { email: `drill-${n % 7}@example.com`, name: `Customer ${n}`, company: 'Drill Inc' },
          tags: ['drill'],
          features: [{ featureId: w.featureId, importance: 'high' }],
        });
        if (res.status === 201 && res.body?.id) own.get(w.id)!.push(res.body.id);
      } else if (r === 8 && own.get(w.id)!.length > 0) {
        const mine = own.get(w.id)!;
        await write(w, 'PATCH', `${base}/${mine[n % mine.length]}`, { title: `${opts.label} renamed ${n}` });
      } else {
        // Two PATCHes of one hot note at the same moment.
        await Promise.all([write(w, 'PATCH', `${base}/${hot}`, { title: `${opts.label} race ${n}a` }), write(w, 'PATCH', `${base}/${hot}`, { title: `${opts.label} race ${n}b` })]);
      }
      next += interval;
      const wait = next - Date.now();
      if (wait > 0) await sleep(wait);
      else next = Date.now();
    }
  };

  const running = Promise.all(Array.from({ length: workers }, (_, k) => worker(k)));
  return {
    latest,
    sameVersion,
    unexpected,
    refused,
    counts,
    ackedBy,
    async stop() {
      stop = true;
      await running;
    },
  };
}

import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export { createTestDatabase, type TestDatabase } from '@carve/shared-testing';

/** Brokers given by the global setup (KAFKA_BROKERS). */
export function kafkaBrokers(): string[] {
  const list = (process.env.KAFKA_BROKERS ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new Error('KAFKA_BROKERS is not set: run through the jest config of libs/shared/messaging (its global setup starts a broker)');
  return list;
}

/** A short unique lower-case name usable as a topic source and as a schema: `<prefix><8 hex>`. */
export function uniqueName(prefix: string): string {
  return `${prefix}${randomBytes(4).toString('hex')}`.replace(/[^a-z0-9]/g, '');
}

export async function sql<R = any>(url: string, text: string, params?: unknown[]): Promise<R[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as R[];
  } finally {
    await c.end();
  }
}

/** Polls `probe` until it returns a truthy value; fails naming `what` (and the last value) after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T> | T, timeoutMs = 20_000, everyMs = 50): Promise<Exclude<T, undefined | null | false | 0 | ''>> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    last = await probe();
    if (last) return last as Exclude<T, undefined | null | false | 0 | ''>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

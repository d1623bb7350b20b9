/**
 * Jest globalTeardown: releases the embedded Postgres started by global-setup (stopped by PID if
 * nobody else uses it), and stops by PID a Kafka broker that a suite of this run had to start
 * (`kafkaBrokers()`; a broker that was already running is left alone).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stopKafka } from '@carve/kafka-broker';
import type { EmbeddedPostgres } from '@carve/shared-persistence';
import { KAFKA_STARTED_FILE, TEST_RUN_DIR_ENV } from '../kafka';

export default async function globalTeardown(): Promise<void> {
  const runDir = (globalThis as any).__carveTestRunDir as string | undefined;
  if (runDir) {
    delete (globalThis as any).__carveTestRunDir;
    delete process.env[TEST_RUN_DIR_ENV];
    try {
      const marker = path.join(runDir, KAFKA_STARTED_FILE);
      if (fs.existsSync(marker)) {
        const { dataDir } = JSON.parse(fs.readFileSync(marker, 'utf8')) as { dataDir: string };
        await stopKafka({ dataDir, log: () => undefined });
      }
    } finally {
      fs.rmSync(runDir, { recursive: true, force: true });
    }
  }
  const pg = (globalThis as any).__carveEmbeddedPostgres as EmbeddedPostgres | undefined;
  if (!pg) return;
  delete (globalThis as any).__carveEmbeddedPostgres;
  delete process.env.DATABASE_URL;
  await pg.stop();
}

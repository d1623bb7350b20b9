#!/usr/bin/env node
// Starts (or finds) the infrastructure `npm test` needs and prints shell exports for it:
//   up   -> DATABASE_URL (given, else embedded Postgres) and KAFKA_BROKERS (given, else the
//           local broker from tools/kafka, on CARVE_KAFKA_PORT or 9092); remembers what it
//           started in tmp/test-infra.json
//   down -> stops only what `up` started, by PID.
// Progress goes to stderr; stdout carries only the `export` lines.
'use strict';
require('./register-ts');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..');
const stateFile = path.join(root, 'tmp', 'test-infra.json');
const log = { info: (m) => process.stderr.write(`   ${m}\n`), warn: (m) => process.stderr.write(`   warning: ${m}\n`) };

async function up() {
  const state = { postgres: null, kafka: null };
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const { startEmbeddedPostgres } = require('@carve/shared-persistence');
    const pg = await startEmbeddedPostgres({ log });
    databaseUrl = pg.url;
    state.postgres = { startedHere: pg.startedHere, pid: pg.pid, dataDir: pg.dataDir };
  }
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    const { startKafka } = require('@carve/kafka-broker');
    const port = process.env.CARVE_KAFKA_PORT ? Number(process.env.CARVE_KAFKA_PORT) : undefined;
    const kafka = await startKafka({ port, log: (m) => log.info(m) });
    brokers = kafka.brokers.join(',');
    state.kafka = { startedHere: !kafka.reused, pid: kafka.pid, dataDir: kafka.dataDir };
  }
  fs.mkdirSync(path.dirname(stateFile), { recursive: true });
  fs.writeFileSync(stateFile, JSON.stringify(state, null, 2));
  process.stdout.write(`export DATABASE_URL='${databaseUrl}'\nexport KAFKA_BROKERS='${brokers}'\n`);
}

async function down() {
  if (!fs.existsSync(stateFile)) return;
  const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
  if (state.kafka?.startedHere) {
    const { stopKafka } = require('@carve/kafka-broker');
    await stopKafka({ dataDir: state.kafka.dataDir });
    log.info(`kafka stopped (pid ${state.kafka.pid})`);
  }
  if (state.postgres?.startedHere) {
    const { startEmbeddedPostgres } = require('@carve/shared-persistence');
    const pg = await startEmbeddedPostgres({ dataDir: state.postgres.dataDir });
    await pg.stop();
    log.info(`embedded postgres stopped (pid ${state.postgres.pid})`);
  }
  fs.rmSync(stateFile, { force: true });
}

const cmd = process.argv[2];
(cmd === 'up' ? up() : cmd === 'down' ? down() : Promise.reject(new Error('usage: test-infra.js up|down'))).catch((err) => {
  process.stderr.write(`test-infra: ${err.message}\n${err.hint ? `  next: ${err.hint}\n` : ''}`);
  process.exit(1);
});

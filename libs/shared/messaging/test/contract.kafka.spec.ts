import { migrateControlPlaneAt } from '@carve/shared-control-plane';
import { createKafkaTransport, postgresReplayLedger } from '../src';
import { transportContract } from './transport-contract';
import { kafkaBrokers } from './support/infra';

// Replays are recorded in the control plane (carve.dead_letter_replays) of the test database.
transportContract('kafka', {
  create: async (databaseUrl) => {
    await migrateControlPlaneAt(databaseUrl);
    return createKafkaTransport({ brokers: kafkaBrokers(), clientId: 'carve-contract-test', replayLedger: postgresReplayLedger({ databaseUrl }) });
  },
});

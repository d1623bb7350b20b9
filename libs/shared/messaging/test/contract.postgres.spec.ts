import { createPostgresTransport } from '../src';
import { transportContract } from './transport-contract';

transportContract('postgres', { create: (databaseUrl) => createPostgresTransport({ databaseUrl, pollIntervalMs: 500 }) });

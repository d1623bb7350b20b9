/** The service's pool on its own schema, as `app.db`, and `app.tx(fn)` for one transaction. */
import { pgTransactions, type TransactionRunner } from '@carve/shared-messaging';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool, PoolClient } from 'pg';

declare module 'fastify' {
  interface FastifyInstance {
    db: Pool;
    tx: TransactionRunner<PoolClient>;
  }
}

export const databasePlugin = fp(
  async (app: FastifyInstance, opts: { pool: Pool }) => {
    app.decorate('db', opts.pool);
    app.decorate('tx', pgTransactions(opts.pool));
  },
  { name: 'insights-database', fastify: '5.x' },
);

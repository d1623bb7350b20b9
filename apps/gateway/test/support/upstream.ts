/**
 * Small real upstreams for the gateway tests: Fastify servers on ephemeral loopback ports that
 * record every request they get and answer as the test tells them (JSON, a status, slowly,
 * never, or by dropping the connection).
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';

export interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyBytes: number;
  readonly at: number;
}

export interface Answer {
  readonly status?: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly delayMs?: number;
}

export type Behaviour = (req: FastifyRequest, upstream: TestUpstream) => Answer | 'hang' | 'destroy' | Promise<Answer | 'hang' | 'destroy'>;

export class TestUpstream {
  readonly seen: Seen[] = [];
  behaviour: Behaviour;
  private constructor(
    readonly name: string,
    readonly app: FastifyInstance,
  ) {
    this.behaviour = TestUpstream.echo;
  }

  /** The default answer: who I am, what was asked, which tenant the gateway said. */
  static echo: Behaviour = (req, up) => ({
    body: { who: up.name, method: req.method, url: req.url, tenant: req.headers['x-carve-tenant'] ?? null },
  });

  /** `bodyLimit`: the largest body it accepts (default 64 MiB; the apps accept 256 KiB). */
  static async start(name: string, opts: { bodyLimit?: number } = {}): Promise<TestUpstream> {
    const app = Fastify({ bodyLimit: opts.bodyLimit ?? 64 * 1024 * 1024, keepAliveTimeout: 60_000 });
    const up = new TestUpstream(name, app);
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    app.all('/*', async (req, reply) => {
      up.seen.push({ method: req.method, url: req.url, headers: req.headers, bodyBytes: Buffer.isBuffer(req.body) ? req.body.length : 0, at: Date.now() });
      const a = await up.behaviour(req, up);
      if (a === 'hang') return new Promise(() => undefined);
      if (a === 'destroy') {
        req.raw.socket.destroy();
        return reply;
      }
      if (a.delayMs) await new Promise((r) => setTimeout(r, a.delayMs));
      reply.status(a.status ?? 200);
      if (a.headers) reply.headers(a.headers);
      return reply.send(a.body ?? { who: up.name });
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    return up;
  }

  get url(): string {
    const addr = this.app.server.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  count(pred: (s: Seen) => boolean = () => true): number {
    return this.seen.filter(pred).length;
  }

  reset(behaviour: Behaviour = TestUpstream.echo): void {
    this.seen.length = 0;
    this.behaviour = behaviour;
  }

  async close(): Promise<void> {
    this.app.server.closeAllConnections();
    await this.app.close();
  }
}

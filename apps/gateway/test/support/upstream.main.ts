/**
 * A test upstream as its own process (so a test can kill it with SIGKILL mid-load):
 * answers every request with {"who": $UPSTREAM_NAME, ...}; prints "LISTENING <port>" once up.
 */
import Fastify from 'fastify';

const name = process.env.UPSTREAM_NAME ?? 'service';
const app = Fastify({ keepAliveTimeout: 60_000 });
app.all('/*', async (req) => ({ who: name, method: req.method, url: req.url, tenant: req.headers['x-carve-tenant'] ?? null }));
app.listen({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0) }).then(() => {
  const addr = app.server.address();
  process.stdout.write(`LISTENING ${typeof addr === 'object' && addr ? addr.port : 0}\n`);
});

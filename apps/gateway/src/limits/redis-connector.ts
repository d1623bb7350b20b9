/**
 * The connection ioredis makes for the shared rate-limit store, with one change from its own
 * standalone connector: the stream's `error` events are all listened to, not just the first.
 *
 * ioredis listens to a stream's errors with `once`. A failed TLS handshake (a CA the gateway
 * does not trust, a server that answers the rejection with an alert of its own) can emit a
 * second error on the same socket; with nobody listening, Node throws it as an uncaught
 * exception and the gateway process dies, where the store was only meant to be unreachable.
 * Here every error is kept (the first is what ioredis reports when the stream is already gone),
 * and ioredis's own handling of the first one is unchanged.
 */
import net from 'node:net';
import tls from 'node:tls';
import { AbstractConnector } from 'ioredis';

type Stream = net.Socket | tls.TLSSocket;

interface Target {
  host?: string;
  port?: number;
  family?: number;
  path?: string;
  tls?: tls.ConnectionOptions;
  disconnectTimeout?: number;
}

export class GuardedConnector extends AbstractConnector {
  private readonly target: Target;
  /** Errors a stream emitted after its first (which ioredis handles itself). */
  laterErrors = 0;

  /** ioredis passes its parsed options (host, port, tls, ...). */
  constructor(options: unknown) {
    const target = options as Target;
    super(target.disconnectTimeout ?? 2000);
    this.target = target;
  }

  connect(): Promise<Stream> {
    this.connecting = true;
    return new Promise<Stream>((resolve, reject) => {
      // As ioredis does: the stream is made on the next tick, so a disconnect() right after
      // connect() still wins.
      process.nextTick(() => {
        if (!this.connecting) {
          reject(new Error('Connection is closed.'));
          return;
        }
        const t = this.target;
        const where: net.NetConnectOpts = t.path ? { path: t.path } : { host: t.host, port: t.port ?? 6379, ...(t.family ? { family: t.family } : {}) };
        let stream: Stream;
        try {
          stream = t.tls ? tls.connect({ ...(where as tls.ConnectionOptions), ...t.tls }) : net.createConnection(where);
        } catch (err) {
          reject(err);
          return;
        }
        let first = true;
        stream.on('error', (err: Error) => {
          if (first) this.firstError = err;
          else this.laterErrors += 1;
          first = false;
        });
        this.stream = stream;
        resolve(stream);
      });
    });
  }
}

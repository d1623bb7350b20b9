/**
 * A subscription to control-plane changes: LISTEN `carve_control` on a dedicated connection
 * (outside the pool: a pooled connection would be handed to other queries and lose the LISTEN),
 * plus a poll of the version as the fallback. NOTIFY wakes a listener at commit; a listener
 * whose connection broke misses notifications until it reconnects, and the poll (and the re-read
 * after every reconnect) covers that window. Whatever woke it, the subscription re-reads the
 * version and the overrides (route and per-workspace) and calls back only when the version moved, one read at a time.
 */
import { Client } from 'pg';
import { CONTROL_CHANNEL, type ControlSnapshot, type StoredOverride, type StoredWorkspaceOverride } from './types';

export interface SubscribeOptions {
  /** Poll interval in ms (default 1000). */
  readonly pollMs?: number;
  /** Called with errors of the listener connection or of a read; the subscription keeps trying. */
  readonly onError?: (err: Error, where: 'listen' | 'read') => void;
  /** First and longest reconnect delay of the listener in ms (default 250 and 5000). */
  readonly reconnectMinMs?: number;
  readonly reconnectMaxMs?: number;
}

export interface SubscriptionState {
  /** Whether the LISTEN connection is up. */
  readonly listening: boolean;
  /** The last version handed to the callback (-1 before the first read). */
  readonly version: number;
  /** When the last read succeeded (ISO-8601), if ever. */
  readonly lastReadAt: string | null;
  readonly lastError: string | null;
  readonly reconnects: number;
}

export class ControlSubscription {
  private listener: Client | null = null;
  private listening = false;
  private version = -1;
  private lastReadAt: string | null = null;
  private lastError: string | null = null;
  private reconnects = 0;
  private closed = false;
  private pollTimer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private again: ControlSnapshot['via'] | null = null;
  private readonly pollMs: number;
  private readonly minDelay: number;
  private readonly maxDelay: number;
  private delay: number;
  private firstRead: Promise<void> | null = null;

  constructor(
    private readonly url: string,
    private readonly read: () => Promise<{ version: number; overrides: StoredOverride[]; workspaceOverrides: StoredWorkspaceOverride[] }>,
    private readonly onChange: (snapshot: ControlSnapshot) => void,
    private readonly options: SubscribeOptions,
    private readonly onClosed: () => void,
  ) {
    this.pollMs = Math.max(50, options.pollMs ?? 1000);
    this.minDelay = options.reconnectMinMs ?? 250;
    this.maxDelay = options.reconnectMaxMs ?? 5000;
    this.delay = this.minDelay;
  }

  /** @internal Called by ControlPlaneClient.subscribe. */
  start(): void {
    this.firstRead = this.refresh('initial');
    void this.connect();
    this.pollTimer = setInterval(() => void this.refresh('poll'), this.pollMs);
    this.pollTimer.unref();
  }

  /** Resolves once the first read has completed (successfully or not). */
  ready(): Promise<void> {
    return this.firstRead ?? Promise.resolve();
  }

  state(): SubscriptionState {
    return {
      listening: this.listening,
      version: this.version,
      lastReadAt: this.lastReadAt,
      lastError: this.lastError,
      reconnects: this.reconnects,
    };
  }

  /** Re-reads now (e.g. right after this process changed something itself). */
  refreshNow(): Promise<void> {
    return this.refresh('poll');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = null;
    this.listening = false;
    if (l) await l.end().catch(() => undefined);
    await this.reading?.catch(() => undefined);
    this.onClosed();
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const client = new Client({ connectionString: this.url, application_name: 'carve-control-listen', connectionTimeoutMillis: 5000 });
    this.listener = client;
    let failed = false;
    const fail = (err: Error) => {
      if (failed || this.closed || this.listener !== client) return;
      failed = true;
      this.listening = false;
      this.listener = null;
      this.lastError = err.message;
      this.options.onError?.(err, 'listen');
      client.end().catch(() => undefined);
      this.scheduleReconnect();
    };
    client.on('error', fail);
    client.on('end', () => fail(new Error('listen connection ended')));
    client.on('notification', (msg) => {
      if (msg.channel === CONTROL_CHANNEL) void this.refresh('notify');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CONTROL_CHANNEL}`);
      if (this.closed || this.listener !== client) {
        await client.end().catch(() => undefined);
        return;
      }
      this.listening = true;
      this.delay = this.minDelay;
      // Whatever changed while the connection was down was not notified: read now.
      void this.refresh('notify');
    } catch (err) {
      fail(err as Error);
    }
  }

  private scheduleReconnect(): void {
    if (this.closed) return;
    this.reconnects += 1;
    const wait = this.delay;
    this.delay = Math.min(this.maxDelay, this.delay * 2);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, wait);
    this.reconnectTimer.unref();
  }

  /** One read at a time; a request that arrives during a read runs once after it. */
  private refresh(via: ControlSnapshot['via']): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.reading) {
      if (this.again !== 'notify') this.again = via;
      return this.reading;
    }
    this.reading = (async () => {
      let next: ControlSnapshot['via'] | null = via;
      while (next && !this.closed) {
        this.again = null;
        await this.readOnce(next);
        next = this.again;
      }
    })().finally(() => {
      this.reading = null;
    });
    return this.reading;
  }

  private async readOnce(via: ControlSnapshot['via']): Promise<void> {
    try {
      const snap = await this.read();
      this.lastReadAt = new Date().toISOString();
      if (this.closed) return;
      if (snap.version === this.version && via !== 'initial') return;
      this.version = snap.version;
      try {
        this.onChange({ version: snap.version, overrides: snap.overrides, workspaceOverrides: snap.workspaceOverrides, via: this.lastReadAtFirst(via) });
      } catch (err) {
        this.options.onError?.(err as Error, 'read');
      }
    } catch (err) {
      this.lastError = (err as Error).message;
      this.options.onError?.(err as Error, 'read');
    }
  }

  private sawFirst = false;
  private lastReadAtFirst(via: ControlSnapshot['via']): ControlSnapshot['via'] {
    if (!this.sawFirst) {
      this.sawFirst = true;
      return 'initial';
    }
    return via;
  }
}

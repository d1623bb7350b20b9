/**
 * The route table file, loaded and hot-reloaded.
 *
 * Changes are noticed by fs.watch on the file's folder (editors and `kubectl` ConfigMap updates
 * replace the file through a rename, which a watch on the file itself would miss) and, as the
 * fallback for file systems where fs.watch is silent, by polling the file's mtime and size.
 * A change is read, parsed and validated (@carve/shared-routing); a valid table replaces the
 * current one, an invalid one is refused: the old table keeps serving and the error is kept for
 * the admin API (GET /admin/status) and logged.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { formatRouteTableErrors, parseRouteTable, type RouteTable, type RouteTableError } from '@carve/shared-routing';
import type { Logger } from '@carve/shared-http';

export interface RouteFileError {
  readonly at: string;
  readonly message: string;
  readonly errors: readonly RouteTableError[];
}

export interface RouteFileStatus {
  readonly path: string;
  /** sha256 of the file that is serving (first 12 hex digits). */
  readonly hash: string;
  readonly loadedAt: string;
  readonly routes: number;
  readonly warnings: readonly RouteTableError[];
  /** The last refused version of the file, while it is still the latest one on disk. */
  readonly error: RouteFileError | null;
  readonly reloads: number;
}

export class RouteFileInvalidError extends Error {
  constructor(
    readonly file: string,
    readonly errors: readonly RouteTableError[],
  ) {
    super(`route table ${file} is invalid:\n${formatRouteTableErrors(errors)}`);
    this.name = 'RouteFileInvalidError';
  }
}

type Listener = (table: RouteTable) => void;

export class RouteFile {
  private table!: RouteTable;
  private hash = '';
  private loadedAt = '';
  private warnings: readonly RouteTableError[] = [];
  private error: RouteFileError | null = null;
  private refusedHash = '';
  private reloads = 0;
  private watcher: fs.FSWatcher | null = null;
  private pollTimer: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private lastStat = '';
  private readonly listeners = new Set<Listener>();
  private readonly refusedListeners = new Set<(error: RouteFileError) => void>();

  constructor(
    readonly file: string,
    private readonly log: Logger,
    private readonly pollMs = 1000,
  ) {}

  /** Loads the file; throws RouteFileInvalidError (or the read error) when it cannot serve. */
  load(): RouteTable {
    const text = fs.readFileSync(this.file, 'utf8');
    this.lastStat = statKey(this.file);
    const result = parseRouteTable(text);
    if (!result.ok) throw new RouteFileInvalidError(this.file, result.errors);
    this.accept(result.table, sha(text), result.warnings);
    return result.table;
  }

  current(): RouteTable {
    return this.table;
  }

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onRefused(listener: (error: RouteFileError) => void): () => void {
    this.refusedListeners.add(listener);
    return () => this.refusedListeners.delete(listener);
  }

  status(): RouteFileStatus {
    return {
      path: this.file,
      hash: this.hash,
      loadedAt: this.loadedAt,
      routes: this.table?.routes.length ?? 0,
      warnings: this.warnings,
      error: this.error,
      reloads: this.reloads,
    };
  }

  /** Starts watching (fs.watch on the folder, plus the mtime poll). */
  watch(): void {
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    try {
      this.watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || name === base || name.toString() === base) this.schedule();
      });
      this.watcher.on('error', (err) => {
        this.log.warn({ err, file: this.file }, 'route table: fs.watch failed; relying on the poll');
        this.watcher?.close();
        this.watcher = null;
      });
    } catch (err) {
      this.log.warn({ err, file: this.file }, 'route table: fs.watch unavailable; relying on the poll');
    }
    this.pollTimer = setInterval(() => {
      const key = statKey(this.file);
      if (key !== this.lastStat) this.schedule();
    }, this.pollMs);
    this.pollTimer.unref();
  }

  close(): void {
    this.watcher?.close();
    this.watcher = null;
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.debounce) clearTimeout(this.debounce);
    this.pollTimer = null;
    this.debounce = null;
  }

  /** Reads the file again now; returns whether a new table took over. */
  reload(): boolean {
    this.lastStat = statKey(this.file);
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // A rename in progress: the poll or the next event will see the new file.
      if (e.code === 'ENOENT') return false;
      this.refuse('', [{ path: '', message: `cannot read the file: ${e.message}` }]);
      return false;
    }
    const hash = sha(text);
    if (hash === this.hash) {
      if (this.error) {
        this.log.info({ file: this.file }, 'route table: the file is back to the version serving');
        this.error = null;
        this.refusedHash = '';
      }
      return false;
    }
    if (hash === this.refusedHash) return false;
    const result = parseRouteTable(text);
    if (!result.ok) {
      this.refuse(hash, result.errors);
      return false;
    }
    this.accept(result.table, hash, result.warnings);
    this.reloads += 1;
    this.log.info({ file: this.file, hash: this.hash, routes: result.table.routes.length }, 'route table: reloaded');
    for (const l of this.listeners) {
      try {
        l(result.table);
      } catch (err) {
        this.log.error({ err }, 'route table: a listener failed');
      }
    }
    return true;
  }

  private schedule(): void {
    if (this.debounce) return;
    // Editors write in several steps; read once they are done.
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.reload();
    }, 50);
    this.debounce.unref();
  }

  private accept(table: RouteTable, hash: string, warnings: readonly RouteTableError[]): void {
    this.table = table;
    this.hash = hash;
    this.loadedAt = new Date().toISOString();
    this.warnings = warnings;
    this.error = null;
    this.refusedHash = '';
    for (const w of warnings) this.log.warn({ file: this.file, path: w.path, line: w.line }, `route table: ${w.message}`);
  }

  private refuse(hash: string, errors: readonly RouteTableError[]): void {
    this.refusedHash = hash;
    const message = formatRouteTableErrors(errors);
    this.error = { at: new Date().toISOString(), message, errors };
    this.log.error({ file: this.file, errors }, `route table: refused an invalid file; the previous table keeps serving:\n${message}`);
    for (const l of this.refusedListeners) l(this.error);
  }
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

function statKey(file: string): string {
  try {
    const s = fs.statSync(file);
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'missing';
  }
}

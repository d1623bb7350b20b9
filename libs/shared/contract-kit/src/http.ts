/** A tiny HTTP client for the contract suite: global fetch, JSON in and out, nothing else. */

export interface HttpResponse {
  status: number;
  body: any;
  headers: Record<string, string>;
}

export interface RequestOptions {
  token?: string | null;
  body?: unknown;
  /** Sent as is (for malformed JSON). */
  raw?: string;
  headers?: Record<string, string>;
}

export async function request(baseUrl: string, method: string, path: string, opts: RequestOptions = {}): Promise<HttpResponse> {
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let payload: string | undefined;
  if (opts.raw !== undefined) payload = opts.raw;
  else if (opts.body !== undefined) payload = JSON.stringify(opts.body);
  if (payload !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: payload });
  const text = await res.text();
  let body: any = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => (out[k] = v));
  return { status: res.status, body, headers: out };
}

/** Follows nextCursor to the end (bounded), returning every item in order and the page count; `onResponse` sees every page's response. */
export async function collectAll(
  baseUrl: string,
  path: string,
  token: string,
  maxPages = 100,
  onResponse?: (method: string, path: string, res: HttpResponse) => void,
): Promise<{ items: any[]; pages: number }> {
  const items: any[] = [];
  let cursor: string | null = null;
  let pages = 0;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const url = cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path;
    const res: HttpResponse = await request(baseUrl, 'GET', url, { token });
    onResponse?.('GET', url, res);
    if (res.status !== 200) throw new Error(`GET ${path} → ${res.status} ${JSON.stringify(res.body)}`);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
    pages += 1;
    if (pages > maxPages) throw new Error(`GET ${path}: more than ${maxPages} pages`);
  } while (cursor);
  return { items, pages };
}

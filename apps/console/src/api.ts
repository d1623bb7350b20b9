/**
 * The admin API as the console uses it: every call carries the operator's token; an answer
 * that is not 2xx becomes an ApiProblem (the problem+json body: code, detail, hint, errors).
 * The live feed reads /admin/events with fetch (EventSource cannot send the token) and parses
 * the server-sent events itself.
 */

export interface Problem {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly hint?: string;
  readonly errors?: ReadonlyArray<{ field: string; message: string }>;
}

export class ApiProblem extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail);
    this.name = 'ApiProblem';
  }
}

export class Api {
  constructor(readonly token: string) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const p = (parsed ?? {}) as Partial<Problem> & { title?: string };
      throw new ApiProblem({ status: res.status, code: p.code ?? `http_${res.status}`, detail: p.detail ?? p.title ?? text.slice(0, 300), hint: p.hint, errors: p.errors });
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.call<T>('GET', path);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.call<T>('POST', path, body);
  }

  /**
   * Follows /admin/events until `signal` aborts, calling `onEvent` per event; reconnects after
   * a dropped stream (2 s later). `onState` says whether the stream is open.
   */
  async follow(onEvent: (event: string, data: unknown) => void, onState: (live: boolean) => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const res = await fetch('/admin/events', { headers: { authorization: `Bearer ${this.token}`, accept: 'text/event-stream' }, signal });
        if (!res.ok || !res.body) throw new Error(`events answered ${res.status}`);
        onState(true);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of frame.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length) onEvent(event, JSON.parse(data.join('\n')));
          }
        }
      } catch {
        // dropped or refused: try again below
      }
      onState(false);
      if (!signal.aborted) await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

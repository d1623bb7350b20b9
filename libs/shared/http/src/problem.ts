/**
 * The one error catalogue of Carve's HTTP surface: every failure leaves as
 * `application/problem+json` (RFC 9457) with a stable machine-readable `code`.
 * Expected failures are thrown (or returned) as ProblemError; anything else becomes a 500
 * `internal` that leaks nothing.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldError {
  field: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  code: string;
  detail?: string;
  errors?: FieldError[];
  instance?: string;
  requestId?: string;
  [extra: string]: unknown;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export class ProblemError extends Error {
  readonly extras: Record<string, unknown>;
  /** Seconds after which the caller may try again (sent as `Retry-After`). */
  retryAfterSeconds?: number;
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    extras: { errors?: FieldError[]; [k: string]: unknown } = {},
  ) {
    super(detail);
    this.name = 'ProblemError';
    this.extras = extras;
  }

  /** The same problem, telling the caller when to try again. */
  retryAfter(seconds: number): this {
    this.retryAfterSeconds = seconds;
    return this;
  }

  /** Retriable problems (the caller may try again unchanged). */
  get retriable(): boolean {
    return this.status === 429 || this.status === 502 || this.status === 503 || this.status === 504;
  }

  toBody(): ProblemBody {
    return {
      type: `https://carve.dev/problems/${this.code}`,
      title: TITLES[this.status] ?? 'Error',
      status: this.status,
      code: this.code,
      detail: this.message,
      ...this.extras,
    };
  }
}

export const problems = {
  validation: (errors: FieldError[], detail = 'The request is not valid.') =>
    new ProblemError(400, 'validation_failed', detail, { errors }),
  badRequest: (code: string, detail: string) => new ProblemError(400, code, detail),
  unauthorized: (reason: string, code = 'unauthorized') => new ProblemError(401, code, reason),
  forbidden: (code: string, detail: string) => new ProblemError(403, code, detail),
  notFound: (what: string) => new ProblemError(404, 'not_found', `${what} was not found.`),
  conflict: (code: string, detail: string) => new ProblemError(409, code, detail),
  payloadTooLarge: (limitBytes?: number) =>
    new ProblemError(413, 'payload_too_large', limitBytes ? `The body exceeds the limit of ${limitBytes} bytes.` : 'The body is too large.'),
  unavailable: (code: string, detail: string) => new ProblemError(503, code, detail),
};

/**
 * SQLSTATEs of the write fence (the database of the side that writes refuses a write of a
 * context it does not own, or while a handover holds the context's writes). Raised by the
 * fence's triggers (@carve/shared-persistence, write-fence.ts).
 */
export const WRITE_FENCE_SQLSTATE = { notOwner: 'CV409', fenced: 'CV503' } as const;

/** The HINT of the fence `carve move` puts on a database while it switches (@carve/shared-carving, move/switch.ts). */
export const MOVE_FENCE_HINT = 'carve move';

/** The problem for a write the fence refused, or undefined when `err` is not one. */
export function writeFenceProblem(err: unknown): ProblemError | undefined {
  const e = err as { code?: unknown; hint?: unknown; driverError?: { code?: unknown; hint?: unknown } } | undefined;
  const pg = e?.driverError ?? e;
  const context = typeof pg?.hint === 'string' ? pg.hint : 'this context';
  if (pg?.code === WRITE_FENCE_SQLSTATE.fenced && pg?.hint === MOVE_FENCE_HINT) {
    return new ProblemError(503, 'write_fenced', 'The database is moving to a new server; try again in a moment.', { context: 'database' }).retryAfter(1);
  }
  if (pg?.code === WRITE_FENCE_SQLSTATE.fenced) {
    return new ProblemError(503, 'write_fenced', `The writes of ${context} are moving between the monolith and its service; try again in a moment.`, {
      context,
    }).retryAfter(1);
  }
  if (pg?.code === WRITE_FENCE_SQLSTATE.notOwner) {
    return new ProblemError(409, 'not_source_of_truth', `This side does not own the writes of ${context}; send them to the owner (the gateway does).`, {
      context,
    }).retryAfter(1);
  }
  return undefined;
}

/** Maps any thrown value to a status, a problem body and the headers that go with it. */
export function toProblem(err: unknown): { status: number; body: ProblemBody; headers?: Record<string, string> } {
  if (err instanceof ProblemError) {
    return {
      status: err.status,
      body: err.toBody(),
      ...(err.retryAfterSeconds !== undefined ? { headers: { 'retry-after': String(err.retryAfterSeconds) } } : {}),
    };
  }
  const fenced = writeFenceProblem(err);
  if (fenced) return toProblem(fenced);
  const e = err as { statusCode?: number; status?: number; code?: string; message?: string; validation?: unknown[]; getStatus?: () => number; getResponse?: () => unknown };

  // Fastify's own errors (body limit, bad JSON, bad content type, schema validation).
  switch (e?.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return toProblem(problems.payloadTooLarge());
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return toProblem(problems.badRequest('malformed_json', 'The body is not valid JSON.'));
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return toProblem(new ProblemError(415, 'unsupported_media_type', 'Send the body as application/json.'));
  }
  if (e && Array.isArray(e.validation)) {
    const errors = (e.validation as Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>).map((v) => ({
      field: (v.instancePath || '').replace(/^\//, '').replace(/\//g, '.') || String(v.params?.missingProperty ?? v.params?.additionalProperty ?? ''),
      message: v.message ?? 'is invalid',
    }));
    return toProblem(problems.validation(errors));
  }
  // Nest HttpException (duck-typed so this lib stays framework-free).
  if (e && typeof e.getStatus === 'function') {
    const status = e.getStatus();
    if (status < 500) {
      const code = status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : `http_${status}`;
      return toProblem(new ProblemError(status, code, e.message ?? TITLES[status] ?? 'Error'));
    }
  }
  const status = e?.statusCode ?? e?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return toProblem(new ProblemError(status, status === 404 ? 'not_found' : `http_${status}`, e.message ?? TITLES[status] ?? 'Error'));
  }
  return {
    status: 500,
    body: { type: 'https://carve.dev/problems/internal', title: TITLES[500], status: 500, code: 'internal', detail: 'An unexpected error occurred.' },
  };
}

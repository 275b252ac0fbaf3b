/**
 * Domain errors and their one mapping to HTTP. Domain code throws `DomainError(reason, …)` with
 * a reason of reasons.ts and knows nothing of HTTP; the reason gives the contract's `code`,
 * `statusOf` is the only table from codes to statuses, and `problemMiddleware` (in http.ts)
 * renders application/problem+json (RFC 9457) with both `code` and `reason`.
 */
import { PROBLEM_REASONS, PROBLEM_REASON_KEYS, type ProblemReason } from './reasons';

export { PROBLEM_REASONS, type ProblemReason } from './reasons';

/** Stable, snake_case error codes. The ones in CONTRACT.md must never change. */
export const ERROR_STATUS = {
  validation_failed: 400,
  unauthenticated: 401,
  forbidden: 403,
  consent_required: 403,
  not_found: 404,
  conflict: 409,
  cap_reached: 409,
  insufficient_points: 409,
  out_of_stock: 409,
  daily_limit_exceeded: 409,
  reversal_window_closed: 409,
  pin_required: 403,
  pin_incorrect: 403,
  card_locked: 423,
  payload_too_large: 413,
  request_timeout: 408,
  unsupported_media_type: 415,
  headers_too_large: 431,
  idempotency_key_reused: 422,
  rate_limited: 429,
  internal_error: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** English titles; `detail` carries the specific message. */
const TITLES: Record<ErrorCode, string> = {
  validation_failed: 'Validation failed',
  unauthenticated: 'Unauthenticated',
  forbidden: 'Forbidden',
  consent_required: 'Consent required',
  not_found: 'Not found',
  conflict: 'Conflict',
  cap_reached: 'Cap reached',
  insufficient_points: 'Insufficient points',
  out_of_stock: 'Out of stock',
  daily_limit_exceeded: 'Daily redemption limit exceeded',
  reversal_window_closed: 'Reversal window closed',
  pin_required: 'Card PIN required',
  pin_incorrect: 'Card PIN incorrect',
  card_locked: 'Card locked',
  payload_too_large: 'Payload too large',
  request_timeout: 'Request timeout',
  unsupported_media_type: 'Unsupported media type',
  headers_too_large: 'Request header fields too large',
  idempotency_key_reused: 'Idempotency key reused',
  rate_limited: 'Too many requests',
  internal_error: 'Internal server error',
  unavailable: 'Service unavailable',
};

export interface FieldError {
  path: string;
  message: string;
}

/**
 * A broken business rule or bad request, named by its `reason` (reasons.ts); `code` is the
 * reason's contract code. `details` are extra problem members (e.g. `errors`).
 */
export class DomainError extends Error {
  readonly code: ErrorCode;

  constructor(
    readonly reason: ProblemReason,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
    this.code = PROBLEM_REASONS[reason].code;
  }
}

export function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

export function titleOf(code: ErrorCode): string {
  return TITLES[code];
}

export function validationError(
  errors: FieldError[],
  message = 'The request is not valid.',
): DomainError {
  return new DomainError('validation_failed', message, { errors });
}

export const notFound = (what = 'resource'): DomainError =>
  new DomainError('not_found', `No such ${what}.`);
export const forbidden = (
  message = 'Not allowed for this role.',
  reason: ProblemReason = 'forbidden',
): DomainError => new DomainError(reason, message);

/**
 * The reasons table as the README shows it (Markdown), so README and code cannot disagree:
 * `npm run docs:reasons` writes it between the README's `reasons` markers, a test compares.
 */
export function reasonsMarkdown(): string {
  const rows = PROBLEM_REASON_KEYS.map((reason) => {
    const { code, zh, en } = PROBLEM_REASONS[reason];
    return `| \`${reason}\` | \`${code}\` | ${statusOf(code)} | ${zh} | ${en} |`;
  });
  return ['| reason | code | status | 说明 | meaning |', '|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}

/** True when a MongoDB/FerretDB error is a unique-index violation (E11000). */
export function isDuplicateKeyError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null;
  if (!e) return false;
  if (e.code === 11000 || e.code === 11001) return true;
  return typeof e.message === 'string' && e.message.includes('E11000');
}

/**
 * Replaces file system paths in a message with `…` before it is shown to anyone outside the
 * server (an EACCES naming '/app/data/exports' tells a caller how the server is laid out).
 */
export function withoutPaths(message: string): string {
  return message.replace(/(^|[\s'"`(=:,])(?:[A-Za-z]:)?[\\/](?:[^\s'"`),]+)/g, '$1…');
}

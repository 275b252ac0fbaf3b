/**
 * Errors as HTTP responses: every problem leaves as application/problem+json (RFC 9457), with
 * the contract's `code` and the stable `reason` (reasons.ts), from `problemMiddleware` only
 * (the HTTP edge, http.ts, installs it last).
 */
import { isBusyError } from './busy';
import type { NextFunction, Request, Response } from 'express';
import type {} from 'pino-http';
import { DomainError, PROBLEM_REASONS, statusOf, titleOf, type ProblemReason } from './errors';
import type { ProblemDocument } from './http';

export const PROBLEM_TYPE_BASE = 'urn:moral-savings:problem:';

/** RFC 9457 members every problem carries; extra members can never replace them. */
const RESERVED_PROBLEM_MEMBERS: ReadonlySet<string> = new Set([
  'type',
  'title',
  'status',
  'detail',
  'code',
  'reason',
]);

/**
 * Renders a problem document for a reason (reasons.ts). `code` is the reason's contract code and
 * `status` always the integer HTTP status of `code`: an extra member named like a reserved one
 * is dropped, so a caller's data (e.g. an export's state) must travel under a name of its own
 * (`exportStatus`).
 */
export function problemBody(
  reason: ProblemReason,
  detail: string,
  extra: Record<string, unknown> = {},
): ProblemDocument {
  const { code } = PROBLEM_REASONS[reason];
  const body: ProblemDocument = {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: titleOf(code),
    status: statusOf(code),
    detail,
    code,
    reason,
  };
  for (const [k, v] of Object.entries(extra)) if (!RESERVED_PROBLEM_MEMBERS.has(k)) body[k] = v;
  return body;
}

function sendProblem(
  res: Response,
  reason: ProblemReason,
  detail: string,
  extra: Record<string, unknown> = {},
): void {
  const { retryAfterS, ...rest } = extra;
  if (!res.hasHeader('Cache-Control')) res.setHeader('Cache-Control', 'no-store');
  if (typeof retryAfterS === 'number')
    res.setHeader('Retry-After', String(Math.max(1, Math.ceil(retryAfterS))));
  res
    .status(statusOf(PROBLEM_REASONS[reason].code))
    .type('application/problem+json')
    .send(JSON.stringify(problemBody(reason, detail, rest)));
}

/**
 * body-parser's failures, mapped to contract codes. Its own error types first; anything else it
 * (or a decompression stream under it: `content-encoding: gzip` with a body that is not gzip)
 * reports is an http-errors 4xx with `expose`, mapped by status. None of these is ever a 500.
 */
function bodyParserProblem(err: {
  type?: unknown;
  status?: unknown;
  expose?: unknown;
}): [ProblemReason, string] | undefined {
  switch (err.type) {
    case 'entity.too.large':
      return ['payload_too_large', 'The request body is larger than 1 MiB.'];
    case 'entity.parse.failed':
      return ['validation_failed', 'The request body is not valid JSON.'];
    case 'encoding.unsupported':
      return [
        'unsupported_media_type',
        'The request body’s content-encoding is not supported (use gzip, deflate, br or none).',
      ];
    case 'charset.unsupported':
      return ['unsupported_media_type', 'The request body must be UTF-8 JSON.'];
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return ['validation_failed', 'The request body could not be read.'];
    default:
      break;
  }
  if (typeof err.status !== 'number' || err.status < 400 || err.status > 499 || err.expose !== true)
    return undefined;
  if (err.status === 413) return ['payload_too_large', 'The request body is larger than 1 MiB.'];
  if (err.status === 415)
    return [
      'unsupported_media_type',
      'The request body’s media type or encoding is not supported.',
    ];
  return [
    'validation_failed',
    'The request body could not be read (its content-encoding does not match its bytes, or it was cut short).',
  ];
}

/** The only place errors become HTTP responses. */
export function problemMiddleware(
  err: unknown,
  req: Request,
  res: Response,
  next: NextFunction,
): void {
  if (res.headersSent) return next(err);
  if (err instanceof DomainError) {
    if (err.code === 'validation_failed' && !('errors' in err.details)) {
      sendProblem(res, err.reason, err.message, { errors: [], ...err.details });
    } else {
      sendProblem(res, err.reason, err.message, err.details);
    }
    return;
  }
  const bp = bodyParserProblem(err as { type?: unknown; status?: unknown; expose?: unknown });
  if (bp) {
    const [code, detail] = bp;
    sendProblem(
      res,
      code,
      detail,
      code === 'validation_failed' ? { errors: [{ path: '(root)', message: detail }] } : {},
    );
    return;
  }
  if (isBusyError(err)) {
    // The database stayed busy through every retry (busy.ts): the refused write was not done.
    // The caller sends the request again (a redemption with its Idempotency-Key: it goes on from
    // where this one stopped, or is answered from it).
    req.log.warn({ err }, 'database busy');

    sendProblem(res, 'unavailable', 'The database is busy; retry shortly.', { retryAfterS: 2 });
    return;
  }
  req.log.error({ err }, 'unhandled error');
  sendProblem(res, 'internal_error', 'Something went wrong on our side; it has been logged.', {
    requestId: req.id,
  });
}

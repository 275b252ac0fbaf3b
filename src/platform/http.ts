/**
 * The HTTP edge: one `Api.route()` call per route declares its method, path, roles and zod
 * schemas; the same declaration validates requests and produces /openapi.json (OpenAPI 3.1).
 * Routes stay thin: validate → call a service → shape the response.
 *
 * Errors leave as application/problem+json (RFC 9457) from `problemMiddleware` only.
 */
import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  type RouteConfig,
} from '@asteasolutions/zod-to-openapi';
import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import express, { type Request, type Response, type Router } from 'express';
import type { ZodTypeAny, z as zType } from 'zod';
import type {} from 'pino-http';
import type { TokenKind } from './auth';
import { DomainError, PROBLEM_REASONS, statusOf } from './errors';
import { PROBLEM_REASON_KEYS } from './reasons';
import type { Logger } from './logger';
import type { Principal, Role } from './principal';
import { z, zodToFieldErrors } from './validation';

// Problem documents are rendered in problem.ts; importers of http.ts keep finding them here.
export { PROBLEM_TYPE_BASE, problemBody, problemMiddleware } from './problem';

/** What a handler returns; the route writes it. */
export interface Reply {
  status: number;
  body?: unknown;
  /** Defaults to application/json for objects. */
  contentType?: string;
  headers?: Record<string, string>;
}

/**
 * One declared response of a route. Without `contentType` (or with a JSON one, e.g.
 * `application/jwk-set+json`) the body is JSON and `schema` is its shape; with another
 * `contentType` (CSV, HTML, plain text, an image) the body is a file sent as a string, a Buffer
 * or a stream, and `schema` only documents it.
 */
export interface ResponseSpec {
  description: string;
  schema?: ZodTypeAny;
  contentType?: `${string}/${string}`;
}

/** A route's declared responses by HTTP status. */
export type Responses = Record<number, ResponseSpec>;

/** A problem document (RFC 9457) as `problemBody` renders it. */
export type ProblemDocument = zType.input<typeof problemSchema> & Record<string, unknown>;

type Headers = Record<string, string>;

/**
 * The replies a route with responses `R` may give with status `S`: a body of that status's
 * schema (the schema's input: what a client parsing the JSON with it accepts), a file for a
 * file response, or nothing for a response without a schema. Distributes over `S`, so each
 * status keeps its own body.
 */
export type ReplyOf<R extends Responses, S = keyof R & number> = S extends keyof R & number
  ? ReplyTo<S, R[S]>
  : never;

type ReplyTo<S extends number, D extends ResponseSpec> = D extends {
  contentType: `${string}/${string}`;
}
  ? D['contentType'] extends `${string}json`
    ? JsonReply<S, D>
    : { status: S; body: string | Buffer | Readable; contentType?: string; headers?: Headers }
  : JsonReply<S, D>;

type JsonReply<S extends number, D extends ResponseSpec> = D extends {
  schema: infer Z extends ZodTypeAny;
}
  ? { status: S; body: zType.input<Z>; contentType?: D['contentType']; headers?: Headers }
  : { status: S; body?: undefined; headers?: Headers };

/**
 * A problem document sent as a reply (e.g. a stored refusal replayed): any status, as the
 * `default` response of every route in /openapi.json describes. Thrown errors need none of this.
 */
export interface ProblemReply {
  status: number;
  body: ProblemDocument;
  contentType: 'application/problem+json';
  headers?: Headers;
}

/**
 * What a handler returns. `{ status: S }` lets the status literal be inferred from the
 * handler (so `201` stays `201`) and checked against the declared statuses.
 */
type Handled<R extends Responses, S> = ({ status: S } & ReplyOf<R, S>) | ProblemReply;

export interface HandlerInput<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  /** Present on every route that is not `auth: 'public'`. */
  principal: Principal;
  headers: IncomingHttpHeaders;
  /** The client's address: the TCP peer, or X-Forwarded-For as far as TRUST_PROXY allows. */
  clientAddress: string;
  log: Logger;
}

type Infer<T> = T extends ZodTypeAny ? zType.infer<T> : Record<string, never>;

export interface RouteSpec<
  B extends ZodTypeAny | undefined,
  Q extends ZodTypeAny | undefined,
  P extends ZodTypeAny | undefined,
  R extends Responses = Responses,
> {
  method: 'get' | 'post' | 'patch' | 'put' | 'delete';
  /** Express-style path, e.g. `/v1/households/:id`. */
  path: string;
  summary: string;
  tag: string;
  /** Roles allowed, or 'public'. Terminals are the only callers holding terminal tokens. */
  auth: readonly Role[] | 'public';
  body?: B;
  query?: Q;
  params?: P;
  /** Extra request headers to document (e.g. Idempotency-Key). */
  requestHeaders?: ZodTypeAny;
  /** Every reply the handler may give; the handler's type allows these and no other. */
  responses: R;
}

/**
 * Resolves a verified token to a live principal (user or terminal); undefined when gone,
 * disabled, or when the token's version `tv` is older than the principal's (revoked).
 */
export type PrincipalResolver = (
  sub: string,
  role: string,
  kind: TokenKind,
  tv: number,
) => Promise<Principal | undefined>;

export interface ApiDeps {
  verifyToken(
    token: string,
    accepted: readonly TokenKind[],
  ): { sub: string; role: string; kind: TokenKind; tv: number };
  resolvePrincipal: PrincipalResolver;
}

/** A problem document (RFC 9457), the `default` response of every route. */
export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    code: z.string(),
    reason: z.enum(PROBLEM_REASON_KEYS).openapi({
      description: `Which rule refused the request, stable and machine-readable, beside the contract's \`code\`:\n\n${reasonsDescription()}`,
    }),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

/** The reasons table for /openapi.json: one line per reason, with its code and meaning. */
function reasonsDescription(): string {
  return PROBLEM_REASON_KEYS.map((r) => {
    const { code, zh, en } = PROBLEM_REASONS[r];
    return `- \`${r}\` (\`${code}\`, ${statusOf(code)}): ${en} ${zh}`;
  }).join('\n');
}

/** The query schema of routes that declare none: any key is an unknown field. */
const NO_QUERY = z.object({}).strict();

export class Api {
  readonly registry = new OpenAPIRegistry();
  readonly router: Router = express.Router();

  constructor(private readonly deps: ApiDeps) {
    this.registry.registerComponent('securitySchemes', 'bearer', {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
  }

  route<
    const R extends Responses,
    S extends keyof R & number,
    // A route that declares no body, query or params gets an empty record for it, not `any`.
    B extends ZodTypeAny | undefined = undefined,
    Q extends ZodTypeAny | undefined = undefined,
    P extends ZodTypeAny | undefined = undefined,
  >(
    spec: RouteSpec<B, Q, P, R>,
    handler: (
      input: HandlerInput<Infer<B>, Infer<Q>, Infer<P>>,
    ) => Handled<R, S> | Promise<Handled<R, S>>,
  ): void {
    this.document(spec);
    const accepted: TokenKind[] =
      spec.auth === 'public'
        ? []
        : spec.auth.includes('terminal')
          ? spec.auth.length === 1
            ? ['terminal']
            : ['terminal', 'person']
          : ['person'];

    this.router[spec.method](spec.path, async (req: Request, res: Response) => {
      // API answers (tokens, balances, entries, personal data) must never sit in a shared or
      // browser cache; a route that serves something cacheable says so in its reply headers.
      res.setHeader('Cache-Control', 'no-store');
      let principal: Principal | undefined;
      if (spec.auth !== 'public') {
        principal = await this.authenticate(req, accepted);
        if (!spec.auth.includes(principal.role))
          throw new DomainError('forbidden', 'This role may not do that.');
        (req as Request & { principal?: Principal }).principal = principal;
        req.log = req.log.child({ userId: principal.id, role: principal.role });
      }
      const params = parseOrThrow(spec.params, req.params, 'params');
      // A route without a query schema takes no query keys: `?status[$ne]=x` is refused, not ignored.
      const query = parseOrThrow(spec.query ?? NO_QUERY, req.query ?? {}, 'query');
      const body = spec.body ? parseOrThrow(spec.body, req.body, '') : undefined;
      if (!spec.body && req.body !== undefined && hasContent(req.body)) {
        throw new DomainError('validation_failed', 'This endpoint takes no request body.', {
          errors: [{ path: '(root)', message: 'no body expected' }],
        });
      }
      const reply = await handler({
        body: body as Infer<B>,
        query: query as Infer<Q>,
        params: params as Infer<P>,
        principal: principal as Principal,
        headers: req.headers,
        clientAddress: req.ip ?? req.socket.remoteAddress ?? 'unknown',
        log: req.log,
      });
      sendReply(res, reply);
    });
  }

  private async authenticate(req: Request, accepted: readonly TokenKind[]): Promise<Principal> {
    const header = req.headers.authorization;
    const m = header ? /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header) : null;
    if (!m) throw new DomainError('unauthenticated', 'A bearer access token is required.');
    const claims = this.deps.verifyToken(m[1]!, accepted);
    const principal = await this.deps.resolvePrincipal(
      claims.sub,
      claims.role,
      claims.kind,
      claims.tv,
    );
    if (!principal)
      throw new DomainError(
        'unauthenticated',
        'The account behind this token is gone or disabled, or the token was revoked.',
      );
    return principal;
  }

  private document(
    spec: RouteSpec<ZodTypeAny | undefined, ZodTypeAny | undefined, ZodTypeAny | undefined>,
  ): void {
    const responses: RouteConfig['responses'] = {};
    for (const [status, r] of Object.entries(spec.responses)) {
      // A declared error without a schema answers a problem document, as the default does.
      const schema = r.schema ?? (Number(status) >= 400 ? problemSchema : undefined);
      const contentType =
        r.contentType ?? (r.schema ? 'application/json' : 'application/problem+json');
      responses[status] = schema
        ? { description: r.description, content: { [contentType]: { schema } } }
        : { description: r.description };
    }
    responses.default = {
      description: 'Problem',
      content: { 'application/problem+json': { schema: problemSchema } },
    };
    this.registry.registerPath({
      method: spec.method,
      path: spec.path.replace(/:([A-Za-z]+)/g, '{$1}'),
      summary: spec.summary,
      tags: [spec.tag],
      security: spec.auth === 'public' ? [] : [{ bearer: [] }],
      description: spec.auth === 'public' ? undefined : `Roles: ${spec.auth.join(', ')}`,
      request: {
        params: spec.params as never,
        query: spec.query as never,
        headers: spec.requestHeaders as never,
        body: spec.body
          ? { content: { 'application/json': { schema: spec.body } }, required: true }
          : undefined,
      },
      responses,
    });
  }

  /** OpenAPI 3.1 of every route declared so far. */
  openapi(): object {
    return new OpenApiGeneratorV31(this.registry.definitions).generateDocument({
      openapi: '3.1.0',
      info: {
        title: '道德储蓄 Moral Savings Ledger API',
        version: '1.0.0',
        description:
          'Village moral-savings points, council approvals, points supermarket and credit reference.',
      },
      servers: [{ url: '/' }],
    });
  }
}

function hasContent(body: unknown): boolean {
  return !(
    body &&
    typeof body === 'object' &&
    !Array.isArray(body) &&
    Object.keys(body).length === 0
  );
}

function parseOrThrow(schema: ZodTypeAny | undefined, value: unknown, where: string): unknown {
  if (!schema) return value;
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new DomainError('validation_failed', 'The request is not valid.', {
      errors: zodToFieldErrors(r.error, where),
    });
  }
  return r.data;
}

export function sendReply(res: Response, reply: Reply): void {
  if (reply.headers) for (const [k, v] of Object.entries(reply.headers)) res.setHeader(k, v);
  res.status(reply.status);
  if (reply.body === undefined) {
    res.end();
  } else if (reply.body instanceof Readable) {
    // Large files (credit exports) are streamed, never held in memory whole.
    const stream = reply.body;
    res.type(reply.contentType ?? 'application/octet-stream');
    stream.on('error', (err) => res.destroy(err));
    stream.pipe(res);
  } else if (typeof reply.body === 'string' || Buffer.isBuffer(reply.body)) {
    res.type(reply.contentType ?? 'text/plain; charset=utf-8').send(reply.body);
  } else {
    res.type(reply.contentType ?? 'application/json').send(JSON.stringify(reply.body));
  }
}

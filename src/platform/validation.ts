/**
 * Request validation with zod. Every object schema is strict (unknown fields are refused, never
 * stored). Every piece of text goes through one of the text building blocks below (`name`,
 * `line`, `longText`, `credential`), which apply the text policy of platform/text.ts (well-formed,
 * NFC, no control or bidirectional characters, lengths in code points). `guardBody` refuses,
 * anywhere in a JSON body, strings that no field may hold (lone surrogates, control characters
 * other than line breaks, bidirectional overrides), keys that MongoDB or FerretDB would treat
 * specially (a leading `$`, a `.`) and arrays of arrays, so that such input gets the same 400 on
 * every backend instead of a backend-only 500 or a silently altered string.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z, type ZodError, type ZodRawShape } from 'zod';
import { DomainError, validationError, type FieldError } from './errors';
import { bodyStringProblem, checkText, type TextKind } from './text';

extendZodWithOpenApi(z);
export { z };

/** Deepest JSON nesting a body may have; real bodies here are 3 levels deep. */
const BODY_DEPTH_MAX = 16;

/** A strict object: unknown keys are a validation error. */
export const obj = <T extends ZodRawShape>(shape: T) => z.object(shape).strict();

/**
 * A text field under the text policy (platform/text.ts): trimmed, NFC, 1..max code points, no
 * control or bidirectional characters; `name` also refuses zero-width characters and
 * `multiline` allows line breaks. The value handed to the service is the normalised one.
 */
function textField(kind: TextKind, max: number, description: string) {
  return z
    .string()
    .openapi({
      minLength: 1,
      maxLength: max,
      description: `${description}; at most ${max} characters (Unicode code points), stored NFC`,
    })
    .transform((raw, ctx) => {
      const r = checkText(raw, { kind, max });
      if ('problem' in r) {
        ctx.addIssue({
          code: 'custom',
          message: r.problem.message,
          params: { textProblem: r.problem.code },
        });
        return z.NEVER;
      }
      return r.value;
    });
}

/** A name of a person, place or organisation: one line, no zero-width characters. */
export const name = (max: number) =>
  textField('name', max, 'A name: one line, no invisible characters');
/** One line of free text (a reason, a title, an item name, a reference). */
export const line = (max: number) => textField('line', max, 'One line of text');
/** Long free text (evidence, notes, comments): line breaks allowed. */
export const longText = (max: number) =>
  textField('multiline', max, 'Free text; line breaks allowed');
/** One line of free text; kept for schemas written before the text kinds (same as `line`). */
export const text = line;

/**
 * A credential as typed (username at sign-in, password, client id or secret): well-formed, no
 * control characters or line breaks, 1..max code points, and not normalised (it is compared
 * or hashed exactly as sent).
 */
export const credential = (max: number) =>
  z
    .string()
    .openapi({
      minLength: 1,
      maxLength: max,
      description: `As typed; at most ${max} characters (Unicode code points)`,
    })
    .superRefine((s, ctx) => {
      const problem =
        bodyStringProblem(s) ??
        (/[\r\n\u2028\u2029]/.test(s) ? 'must not contain line breaks' : undefined);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
      else if (!s.length) ctx.addIssue({ code: 'custom', message: 'must not be empty' });
      else if ([...s].length > max)
        ctx.addIssue({
          code: 'custom',
          message: `at most ${max} characters (Unicode code points)`,
        });
    });

/** A 24-hex-digit id as the API returns them. */
export const id = () => z.string().regex(/^[a-f0-9]{24}$/, 'must be an id (24 hex digits)');

/** Integer points, safe for JSON and for adding up (|n| <= 1e9). */
export const POINTS_ABS_MAX = 1_000_000_000;
export const points = () => z.number().int().min(-POINTS_ABS_MAX).max(POINTS_ABS_MAX);

/** A positive integer in a query string. */
export const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

export function zodToFieldErrors(err: ZodError, prefix = ''): FieldError[] {
  return err.issues.map((i) => {
    const p = i.path.join('.');
    let message = i.message;
    if (i.code === 'unrecognized_keys') message = `unknown field(s): ${i.keys.join(', ')}`;
    return { path: [prefix, p].filter(Boolean).join('.') || prefix || '(root)', message };
  });
}

/** Throws validation_failed for keys or values no backend should ever see. */
export function guardBody(value: unknown): void {
  const errors: FieldError[] = [];
  const walk = (v: unknown, path: string, depth: number, inArray: boolean) => {
    if (depth > BODY_DEPTH_MAX) {
      errors.push({ path: path || '(root)', message: 'nested too deeply' });
      return;
    }
    if (typeof v === 'string') {
      const problem = bodyStringProblem(v);
      if (problem) errors.push({ path: path || '(root)', message: problem });
    } else if (Array.isArray(v)) {
      if (inArray) errors.push({ path, message: 'arrays of arrays are not accepted' });
      v.forEach((item, i) => walk(item, `${path}${path ? '.' : ''}${i}`, depth + 1, true));
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const childPath = `${path}${path ? '.' : ''}${k}`;
        if (
          k.startsWith('$') ||
          k.includes('.') ||
          k.includes('\u0000') ||
          k === '' ||
          bodyStringProblem(k) !== undefined
        )
          errors.push({
            path: childPath,
            message: 'field names must not start with $ or contain . or NUL or control characters',
          });
        walk(child, childPath, depth + 1, false);
      }
    }
  };
  walk(value, '', 0, false);
  if (errors.length) throw validationError(errors);
}

/**
 * body-parser's `verify` hook: refuses a JSON body whose bytes are not UTF-8. Left alone,
 * express.json decodes them to U+FFFD and the request would store text nobody sent.
 */
export function refuseInvalidUtf8(
  _req: unknown,
  _res: unknown,
  buf: Buffer,
  encoding: string,
): void {
  if (!/^utf-?8$/i.test(encoding || 'utf-8')) return;
  try {
    UTF8_FATAL.decode(buf);
  } catch {
    throw new DomainError('validation_failed', 'The request body is not valid UTF-8.', {
      errors: [{ path: '(root)', message: 'the body bytes must be UTF-8' }],
    });
  }
}
const UTF8_FATAL = new TextDecoder('utf-8', { fatal: true });

/** Reads an `Idempotency-Key` header: 1–128 visible ASCII characters. */
export function parseIdempotencyKey(raw: string | string[] | undefined, required: true): string;
export function parseIdempotencyKey(
  raw: string | string[] | undefined,
  required: boolean,
): string | undefined;
export function parseIdempotencyKey(
  raw: string | string[] | undefined,
  required: boolean,
): string | undefined {
  if (raw === undefined && !required) return undefined;
  if (typeof raw !== 'string' || raw.length < 1 || raw.length > 128 || /[^\x21-\x7e]/.test(raw)) {
    throw new DomainError(
      'validation_failed',
      'Idempotency-Key must be 1–128 visible ASCII characters.',
      {
        errors: [
          {
            path: 'headers.idempotency-key',
            message:
              required && raw === undefined ? 'required' : 'must be 1–128 visible ASCII characters',
          },
        ],
      },
    );
  }
  return raw;
}

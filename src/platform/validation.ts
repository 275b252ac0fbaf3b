/**
 * Request validation with zod. Every object schema is strict (unknown fields are refused, never
 * stored), every string refuses NUL characters, and `guardBody` refuses, anywhere in a JSON
 * body, keys that MongoDB or FerretDB would treat specially (a leading `$`, a `.`) and arrays of
 * arrays, so that such input gets the same 400 on every backend instead of a backend-only 500.
 */
import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z, type ZodError, type ZodRawShape } from 'zod';
import { DomainError, validationError, type FieldError } from './errors';

extendZodWithOpenApi(z);
export { z };

/** Deepest JSON nesting a body may have; real bodies here are 3 levels deep. */
const BODY_DEPTH_MAX = 16;

/** A strict object: unknown keys are a validation error. */
export const obj = <T extends ZodRawShape>(shape: T) => z.object(shape).strict();

/** Text without NUL characters, trimmed length 1..max. */
export const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

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
      if (v.includes('\u0000')) errors.push({ path: path || '(root)', message: 'must not contain NUL characters' });
    } else if (Array.isArray(v)) {
      if (inArray) errors.push({ path, message: 'arrays of arrays are not accepted' });
      v.forEach((item, i) => walk(item, `${path}${path ? '.' : ''}${i}`, depth + 1, true));
    } else if (v && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const childPath = `${path}${path ? '.' : ''}${k}`;
        if (k.startsWith('$') || k.includes('.') || k.includes('\u0000') || k === '')
          errors.push({ path: childPath, message: 'field names must not start with $ or contain . or NUL' });
        walk(child, childPath, depth + 1, false);
      }
    }
  };
  walk(value, '', 0, false);
  if (errors.length) throw validationError(errors);
}

/** Reads an `Idempotency-Key` header: 1–128 visible ASCII characters. */
export function parseIdempotencyKey(raw: string | string[] | undefined, required: true): string;
export function parseIdempotencyKey(raw: string | string[] | undefined, required: boolean): string | undefined;
export function parseIdempotencyKey(raw: string | string[] | undefined, required: boolean): string | undefined {
  if (raw === undefined && !required) return undefined;
  if (typeof raw !== 'string' || raw.length < 1 || raw.length > 128 || /[^\x21-\x7e]/.test(raw)) {
    throw new DomainError('validation_failed', 'Idempotency-Key must be 1–128 visible ASCII characters.', {
      errors: [{ path: 'headers.idempotency-key', message: required && raw === undefined ? 'required' : 'must be 1–128 visible ASCII characters' }],
    });
  }
  return raw;
}

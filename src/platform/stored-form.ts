/**
 * A document in the form a mongoose model would store it, without building a mongoose document.
 *
 * The hot paths insert through group commit (group-commit.ts), which sends plain documents with
 * the driver's `insertMany`; each is first put in its model's form and checked by its schema, as
 * `Model.create` would. Building a mongoose document for that (`new Model(doc)`, `validateSync`,
 * `toObject`) cost 45–87 µs a document, measured, and was the largest share of the API's own CPU
 * in the bench's redemption closed loop (about a fifth: seven such documents per redemption).
 * Mongoose's own static helpers do the same work on the plain object in 15–22 µs:
 *
 * - `castObject`: every schema path cast to its type (a hex string to an ObjectId, a date string
 *   to a Date); members the schema does not name are dropped, or refused (StrictModeError) where
 *   the schema says `strict: 'throw'`, as a document does; a value that cannot be cast throws;
 * - a member given as `null` is stored as `null` (castObject leaves it out; a document keeps it,
 *   and a default does not replace it);
 * - `applyDefaults`: the schema's defaults;
 * - `validate`: the schema's validators (required, enum, min, max, match…), throwing the same
 *   ValidationError;
 * - then, as `toObject` does by default (`minimize`), empty plain objects are removed and members
 *   left `undefined` are dropped, so the stored bytes are those the document path stored.
 *
 * The members may come in another order (a default is added after the members given); nothing
 * here reads a document by its members' order.
 *
 * That the two forms agree, for every model registered, is asserted by
 * test/platform/stored-form.test.ts (cast values, defaults, nulls, unknown members, refusals).
 */
import mongoose, { type Model, type Schema, type SchemaType } from 'mongoose';

/** A plain object (not an array, Date, ObjectId, Buffer or other class instance). */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `toObject`'s `minimize`, on a copy: `undefined` members and plain objects left empty are
 * dropped at every depth (an empty object inside an array stays, as in mongoose). Copied, not
 * changed in place: a Mixed member is the caller's own object. Undefined for an empty object.
 */
function minimized(obj: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  let kept = 0;
  for (const [key, value] of Object.entries(obj)) {
    const v = isPlainObject(value) ? minimized(value) : value;
    if (v === undefined) continue;
    out[key] = v;
    kept++;
  }
  return kept ? out : undefined;
}

type Plain = Record<string, unknown>;

const at = (obj: Plain, pieces: string[]): unknown =>
  pieces.reduce<unknown>(
    (o, k) => (o !== null && typeof o === 'object' ? (o as Plain)[k] : undefined),
    obj,
  );

/**
 * Puts back into `out` (castObject's result) every member `input` gives as `null`, at every depth
 * of the schema (single nested and arrays of subdocuments included).
 */
function keepNulls(schema: Schema, input: Plain, out: Plain): void {
  schema.eachPath((path: string, type: SchemaType) => {
    const pieces = path.split('.');
    const value = at(input, pieces);
    const t = type as Nestable;
    if (value === null) {
      let cur = out;
      for (const piece of pieces.slice(0, -1)) {
        const next = cur[piece];
        if (next === null || typeof next !== 'object') cur[piece] = {};
        cur = cur[piece] as Plain;
      }
      cur[pieces[pieces.length - 1]!] = null;
      return;
    }
    const cast = at(out, pieces);
    if (t.$isSingleNested && t.schema && isPlainObject(value) && isPlainObject(cast))
      keepNulls(t.schema, value, cast);
    else if (t.$isMongooseDocumentArray && t.schema && Array.isArray(value) && Array.isArray(cast))
      value.forEach((el, i) => {
        if (isPlainObject(el) && isPlainObject(cast[i])) keepNulls(t.schema!, el, cast[i] as Plain);
      });
  });
}

type Nestable = SchemaType & {
  $isSingleNested?: boolean;
  $isMongooseDocumentArray?: boolean;
  schema?: Schema;
};

/**
 * A document refuses a member its schema does not name when the schema is `strict: 'throw'`
 * (castObject would drop it): so does this, at every depth, naming the member's path.
 */
function assertStrict(schema: Schema, input: Plain, prefix = ''): void {
  const throws = schema.options.strict === 'throw';
  for (const [key, value] of Object.entries(input)) {
    const path = prefix + key;
    const kind = schema.pathType(path);
    if (kind === 'nested' && isPlainObject(value)) assertStrict(schema, value, `${path}.`);
    else if (kind === 'real') {
      const t = schema.path(path) as Nestable;
      if (t.$isSingleNested && t.schema && isPlainObject(value)) assertStrict(t.schema, value);
      else if (t.$isMongooseDocumentArray && t.schema && Array.isArray(value))
        for (const el of value) if (isPlainObject(el)) assertStrict(t.schema, el);
    } else if (kind !== 'virtual' && throws && value !== undefined)
      throw new mongoose.Error.StrictModeError(path);
  }
}

/**
 * The document `doc` as `new model(doc).toObject()` gives it, checked by the schema's validators
 * (throws the ValidationError `validateSync` would). `doc` itself is not changed.
 */
export async function storedForm<T>(
  model: Model<T>,
  doc: object,
): Promise<Record<string, unknown>> {
  assertStrict(model.schema, doc as Plain);
  const cast = model.castObject(doc) as Plain;
  keepNulls(model.schema, doc as Plain, cast);
  model.applyDefaults(cast);
  await model.validate(cast);
  return minimized(cast) ?? {};
}

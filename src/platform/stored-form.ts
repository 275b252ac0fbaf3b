/**
 * A document in the form a mongoose model would store it, without building a mongoose document.
 *
 * The hot paths insert through group commit (group-commit.ts), which sends plain documents with
 * the driver's `insertMany`; each is first put in its model's form and checked by its schema, as
 * `Model.create` would. Building a mongoose document for that (`new Model(doc)`, `validateSync`,
 * `toObject`) was the largest share of the API's own CPU in the bench's redemption closed loop
 * (seven such documents per redemption). Two ways instead, both without a document:
 *
 * The fast way, for what the hot paths insert: every member already of its path's exact type (a
 * string, a finite number, a valid Date, an ObjectId, a boolean; arrays and subdocuments made of
 * such), no member the schema does not name, none left to a default, and each path's validators
 * (required, enum, min, max…) passed, run synchronously by the path itself (`doValidateSync`).
 * Then nothing needs casting, and the document is stored as given (copied, minimized). A schema
 * with setters, nested (dotted) paths or types other than those takes the general way always;
 * so does any document the fast way does not accept, which then gets the general way's answer.
 *
 * The general way, mongoose's own static helpers on the plain object:
 *
 * - `castObject`: every schema path cast to its type (a hex string to an ObjectId, a date string
 *   to a Date); members the schema does not name are dropped, or refused (StrictModeError) where
 *   the schema says `strict: 'throw'`, as a document does; a value that cannot be cast throws;
 * - a member given as `null` is stored as `null` (castObject leaves it out; a document keeps it,
 *   and a default does not replace it);
 * - `applyDefaults`: the schema's defaults;
 * - `validate`: the schema's validators (required, enum, min, max, match…), throwing a
 *   ValidationError that names the same paths (a document with several faults, one a value that
 *   cannot be cast, is named by its cast errors alone: refused all the same);
 * - then, as `toObject` does by default (`minimize`), empty plain objects are removed and members
 *   left `undefined` are dropped, so the stored bytes are those the document path stored.
 *
 * The members may come in another order (a default is added after the members given); nothing
 * here reads a document by its members' order.
 *
 * That both ways agree with the document path, for every model registered, is asserted by
 * test/platform/stored-form.test.ts (cast values, defaults, nulls, unknown members, refusals).
 * Measured in the bench's redemption closed loop (CPU profiles of the API, 9 s each): the
 * document path took about 14 % of the API's busy time, the general way alone 15 %, the two ways
 * together 4 %; the API's CPU per redemption fell from 4.3 to 3.0 ms with this and the other
 * changes of that session (README, *The API's own CPU on the hot path*).
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
        if (isPlainObject(el) && isPlainObject(cast[i])) keepNulls(t.schema!, el, cast[i]);
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
      const t: Nestable = schema.path(path);
      if (t.$isSingleNested && t.schema && isPlainObject(value)) assertStrict(t.schema, value);
      else if (t.$isMongooseDocumentArray && t.schema && Array.isArray(value))
        for (const el of value) if (isPlainObject(el)) assertStrict(t.schema, el);
    } else if (kind !== 'virtual' && throws && value !== undefined)
      throw new mongoose.Error.StrictModeError(path);
  }
}

/** The fast way's check of one path: the value to store, or `REFUSED` (take the general way). */
type PathCheck = (value: unknown, doc: Plain) => unknown;
/** The fast way for one schema: the document to store, or undefined (take the general way). */
type FastForm = (doc: Plain) => Plain | undefined;

const REFUSED = Symbol('general way');
const fastForms = new WeakMap<Schema, FastForm | null>();

/** Documents put in their form each way (the tests read it). */
export const storedFormStats = { fast: 0, general: 0 };

const EXACT: Record<string, (v: unknown) => boolean> = {
  String: (v) => typeof v === 'string',
  Number: (v) => typeof v === 'number' && Number.isFinite(v),
  Date: (v) => v instanceof Date && !Number.isNaN(v.getTime()),
  ObjectId: (v) => v instanceof mongoose.Types.ObjectId,
  Boolean: (v) => typeof v === 'boolean',
};

/** A path's validators run synchronously, as mongoose's SchemaType defines it (base class). */
const pathValidators = Object.getOwnPropertyDescriptor(
  mongoose.SchemaType.prototype,
  'doValidateSync',
)!.value as (this: SchemaType, value: unknown, scope: unknown) => unknown;

type PathType = Nestable & {
  instance: string;
  setters: unknown[];
  defaultValue?: unknown;
  isRequired?: boolean;
  caster?: PathType;
  $isMongooseArray?: boolean;
};

/** The fast way's check of a value of one type, or null when the type has no fast way. */
function valueCheck(t: PathType): ((v: unknown) => unknown) | null {
  // An ObjectId `_id`'s one setter (mongoose's resetId) keeps a value that is given.
  const idSetterOnly = t.path === '_id' && t.instance === 'ObjectId' && t.setters.length === 1;
  if (t.setters.length && !idSetterOnly) return null;
  const exact = EXACT[t.instance];
  if (exact) return (v) => (exact(v) ? v : REFUSED);
  if (t.instance === 'Mixed') return (v) => (isPlainObject(v) ? (minimized(v) ?? REFUSED) : v);
  const sub = t.schema && fastFormOf(t.schema);
  if (t.$isMongooseDocumentArray && sub)
    return (v) => {
      if (!Array.isArray(v)) return REFUSED;
      const out = v.map((el) => (isPlainObject(el) ? sub(el) : undefined));
      return out.includes(undefined) ? REFUSED : out;
    };
  if (t.$isSingleNested && sub)
    return (v) => {
      const out = isPlainObject(v) ? sub(v) : undefined;
      return out && Object.keys(out).length ? out : REFUSED;
    };
  // An array of primitives whose elements have validators of their own (an enum on `[String]`)
  // takes the general way: its elements' validators are not run here.
  const casterChecked = Boolean(
    (t.caster as { validators?: unknown[] } | undefined)?.validators?.length,
  );
  const element = t.$isMongooseArray && t.caster && !casterChecked ? valueCheck(t.caster) : null;
  if (element)
    return (v) => {
      if (!Array.isArray(v)) return REFUSED;
      const out = v.map(element);
      return out.includes(REFUSED) ? REFUSED : out;
    };
  return null;
}

function pathCheck(t: PathType): PathCheck | null {
  const check = valueCheck(t);
  if (!check) return null;
  const hasDefault = t.defaultValue !== undefined;
  return (value, doc) => {
    if (value === undefined) return hasDefault || t.isRequired ? REFUSED : undefined;
    const stored = value === null ? null : check(value);
    if (stored === REFUSED) return REFUSED;
    // The path's own validators (required, enum, min…), not a subdocument's override, which
    // would build subdocuments in the caller's array: the sub form checked those members.
    return pathValidators.call(t, value, doc) ? REFUSED : stored;
  };
}

/** The fast way for a schema, compiled once; null when the schema has none. */
function fastFormOf(schema: Schema): FastForm | null {
  const known = fastForms.get(schema);
  if (known !== undefined) return known;
  fastForms.set(schema, null); // a schema that nests itself takes the general way
  const paths = Object.entries(schema.paths as Record<string, PathType>);
  const checks = paths.map(
    ([path, t]) => [path, path.includes('.') ? null : pathCheck(t)] as const,
  );
  const names = new Set(paths.map(([path]) => path));
  const form: FastForm | null = checks.some(([, c]) => !c)
    ? null
    : (doc) => {
        for (const key of Object.keys(doc)) if (!names.has(key) && doc[key] !== undefined) return;
        const out: Plain = {};
        for (const [path, check] of checks) {
          const stored = check!(doc[path], doc);
          if (stored === REFUSED) return;
          if (stored !== undefined) out[path] = stored;
        }
        return out;
      };
  fastForms.set(schema, form);
  return form;
}

/**
 * The document `doc` as `new model(doc).toObject()` gives it, checked by the schema's validators
 * (throws the ValidationError `validateSync` would). `doc` itself is not changed.
 */
export async function storedForm<T>(
  model: Model<T>,
  doc: object,
): Promise<Record<string, unknown>> {
  const fast = fastFormOf(model.schema)?.(doc as Plain);
  if (fast) {
    storedFormStats.fast++;
    return fast;
  }
  storedFormStats.general++;
  assertStrict(model.schema, doc as Plain);
  const cast = model.castObject(doc) as Plain;
  keepNulls(model.schema, doc as Plain, cast);
  model.applyDefaults(cast);
  await model.validate(cast);
  return minimized(cast) ?? {};
}

/**
 * The stored form without a mongoose document (platform/stored-form.ts) agrees with the document
 * path (`new Model(doc)`, `validateSync`, `toObject`) for every model the service registers:
 * the same members (in any order), cast the same way, explicit nulls kept, the same defaults,
 * the same refusals. Documents are made
 * from each schema's own paths, so a model added later is covered without a line here.
 */
import mongoose, { Types, type Model, type Schema, type SchemaType } from 'mongoose';
import { BSON } from 'mongodb';
import { expect } from '../support/expect';
import '../../src/modules/models';
import { storedForm, storedFormStats } from '../../src/platform/stored-form';

type Doc = Record<string, unknown>;
type Variant = 'full' | 'strings' | 'sparse' | 'nulls' | 'edge';

const DATE = new Date('2026-05-01T08:30:00.000Z');

// No model of the service has an array whose elements carry validators of their own (checked
// when this was written); this one stands in for such a model, so the fast way's refusal to take
// one is covered.
mongoose.model(
  'StoredFormEnumArray',
  new mongoose.Schema(
    { kinds: { type: [String], enum: ['a', 'b'], required: true }, n: Number },
    { collection: 'stored_form_enum_array', versionKey: false },
  ),
);

/** One value for a path of the given type; `strings` gives what a cast must turn into it. */
function valueFor(type: SchemaType, variant: Variant, depth: number): unknown {
  const t = type as SchemaType & {
    instance: string;
    enumValues?: string[];
    schema?: Schema;
    caster?: SchemaType;
    options: { min?: number; max?: number };
  };
  const asString = variant === 'strings';
  const edge = variant === 'edge';
  switch (t.instance) {
    case 'String':
      return edge ? '' : t.enumValues?.length ? t.enumValues[0] : 'text 文字';
    case 'Number': {
      const n = Math.max(t.options.min ?? 0, Math.min(t.options.max ?? 3, 3));
      return edge ? Number.NaN : asString ? String(n) : n;
    }
    case 'Date':
      return edge ? new Date('not a date') : asString ? DATE.toISOString() : DATE;
    case 'ObjectId': {
      const id = new Types.ObjectId('64b7f0c2a1b2c3d4e5f60718');
      return asString ? id.toHexString() : id;
    }
    case 'Boolean':
      return asString ? 'true' : true;
    case 'Mixed':
      return { kept: 1, nested: { inner: 'x' }, empty: {}, list: [{}, 2] };
    case 'Embedded':
      return depth > 3 ? undefined : docFor(t.schema!, variant, depth + 1);
    case 'Array': {
      if (t.schema) return depth > 3 ? [] : [docFor(t.schema, variant, depth + 1)];
      const inner = t.caster ? valueFor(t.caster, variant, depth + 1) : 'text';
      return inner === undefined ? [] : [inner];
    }
    case 'Buffer':
      return Buffer.from('bytes');
    default:
      return undefined; // Map, Decimal128: no model uses them
  }
}

/** A document from a schema's paths: every path, or (sparse) the required ones, or nulls. */
function docFor(schema: Schema, variant: Variant, depth = 0): Doc {
  const doc: Doc = {};
  schema.eachPath((path, type) => {
    if (path === '__v') return;
    const required = Boolean((type as SchemaType & { isRequired?: boolean }).isRequired);
    if (variant === 'sparse' && !required && path !== '_id') return;
    const value =
      variant === 'nulls' && !required && path !== '_id' ? null : valueFor(type, variant, depth);
    if (value === undefined) return;
    let cur = doc;
    const pieces = path.split('.');
    for (const piece of pieces.slice(0, -1)) cur = (cur[piece] ??= {}) as Doc;
    cur[pieces[pieces.length - 1]!] = value;
  });
  return doc;
}

/** The document path's form, or its ValidationError's paths. */
function byDocument(model: Model<unknown>, doc: Doc): Doc | string[] {
  let d;
  try {
    d = new model(doc);
  } catch (err) {
    if (err instanceof mongoose.Error.StrictModeError) return [`strict ${err.path}`];
    throw err;
  }
  const invalid = d.validateSync();
  if (invalid) return Object.keys(invalid.errors).sort();
  return d.toObject({ depopulate: true }) as Doc;
}

async function byStoredForm(model: Model<unknown>, doc: Doc): Promise<Doc | string[]> {
  try {
    return await storedForm(model, doc);
  } catch (err) {
    if (err instanceof mongoose.Error.StrictModeError) return [`strict ${err.path}`];
    const e = err as { errors?: Record<string, unknown> };
    if (!e.errors) throw err;
    return Object.keys(e.errors).sort();
  }
}

/** Members sorted at every level (the order of members is the one thing allowed to differ). */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Doc;
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, sorted(o[k])]),
  );
}

/** What would be stored: the driver's BSON of the form, as Extended JSON, members sorted. */
function stored(form: Doc | string[]): string {
  if (Array.isArray(form)) return `refused: ${form.join(', ')}`;
  const bson = BSON.EJSON.serialize(BSON.deserialize(BSON.serialize(form)));
  return JSON.stringify(sorted(bson));
}

const models = () => Object.values(mongoose.models) as Model<unknown>[];

describe('platform: stored form without a mongoose document', () => {
  it('covers the models that insert in batches, among every registered model', () => {
    const names = models().map((m) => m.collection.collectionName);
    expect(names.length).to.be.greaterThan(40);
    for (const c of ['ledger_entries', 'redemptions', 'redemption_keys', 'redemption_events'])
      expect(names).to.include(c);
  });

  for (const variant of ['full', 'strings', 'sparse', 'nulls', 'edge'] as const) {
    for (const unknownMember of [false, true]) {
      it(`stores the same bytes as the document path for every model (${variant} documents${unknownMember ? ', and a member the schema does not name' : ''})`, async () => {
        const differing: string[] = [];
        let strictRefusals = 0;
        const before = { ...storedFormStats };
        for (const model of models()) {
          const doc = docFor(model.schema, variant);
          // Dropped by both, or refused by both (strict: 'throw').
          if (unknownMember) doc.notInTheSchema = 'dropped';
          const given = JSON.stringify(BSON.EJSON.serialize(doc));
          const a = stored(byDocument(model, doc));
          const b = stored(await byStoredForm(model, doc));
          if (a.startsWith('refused: strict')) strictRefusals++;
          if (a !== b) differing.push(`${model.modelName}:\n  document ${a}\n  stored   ${b}`);
          // The caller's document (a Mixed member is the caller's own object) is left as it was.
          expect(JSON.stringify(BSON.EJSON.serialize(doc)), model.modelName).to.equal(given);
        }
        // A document with several faults (edge) is refused by both; the general way may name
        // fewer of its paths (castObject reports a cast error before validating the rest).
        if (variant === 'edge') {
          const both = differing.filter((d) => (d.match(/refused/g) ?? []).length !== 2);
          expect(both, both.join('\n')).to.deep.equal([]);
        } else expect(differing, differing.join('\n')).to.deep.equal([]);
        const fast = storedFormStats.fast - before.fast;
        if (unknownMember) {
          expect(strictRefusals, "models with strict: 'throw'").to.be.greaterThan(5);
          expect(fast, 'an unknown member always takes the general way').to.equal(0);
        }
        // Documents of exact types take the fast way where the schema allows it.
        if (variant === 'full' && !unknownMember) expect(fast).to.be.greaterThan(30);
        if (variant === 'strings' || variant === 'edge') expect(fast).to.be.lessThan(10);
      });
    }
  }

  it('takes the fast way for what a redemption and a posting insert', async () => {
    const rid = new Types.ObjectId();
    const docs: [string, Doc][] = [
      [
        'RedemptionInflight',
        { _id: rid.toHexString(), keyId: 't:k#0', owner: 'o', createdAt: DATE },
      ],
      [
        'Redemption',
        {
          _id: rid,
          storeId: 's',
          terminalId: 't',
          key: 'k',
          claimId: 't:k#0',
          storeName: '超市',
          householdId: 'h',
          villageId: 'v',
          cardNo: 'C1',
          lines: [{ itemId: 's:A', sku: 'A', name: '酱油', qty: 1, pointsEach: 10, points: 10 }],
          points: 10,
          tracksAllowance: true,
          occurredAt: DATE,
          day: '2026-11-28',
          createdAt: DATE,
        },
      ],
    ];
    for (const [name, doc] of docs) {
      const model = mongoose.model(name) as Model<unknown>;
      const before = storedFormStats.fast;
      expect(stored(await byStoredForm(model, doc))).to.equal(stored(byDocument(model, doc)));
      expect(storedFormStats.fast - before, name).to.equal(1);
    }
  });

  it('refuses what the document path refuses: a required member missing, a value off its enum, an uncastable value, each naming its path', async () => {
    let refusals = 0;
    for (const model of models()) {
      const full = docFor(model.schema, 'full');
      const cases: Doc[] = [];
      model.schema.eachPath((path, type) => {
        const t = type as SchemaType & {
          isRequired?: boolean;
          enumValues?: string[];
          instance: string;
        };
        if (path === '_id' || path.includes('.')) return;
        if (t.isRequired) cases.push({ ...full, [path]: undefined });
        if (t.enumValues?.length) cases.push({ ...full, [path]: 'not-one-of-them' });
        if (t.instance === 'Number' || t.instance === 'Date')
          cases.push({ ...full, [path]: 'not a value' });
        const elementEnum = (t as SchemaType & { caster?: { enumValues?: string[] } }).caster
          ?.enumValues;
        if (t.instance === 'Array' && elementEnum?.length)
          cases.push({ ...full, [path]: [elementEnum[0], 'not-one-of-them'] });
      });
      for (const doc of cases) {
        const a = byDocument(model, doc);
        const b = await byStoredForm(model, doc);
        if (Array.isArray(a)) refusals++;
        expect(stored(b), model.modelName).to.equal(stored(a));
      }
    }
    expect(refusals).to.be.greaterThan(100);
  });
});

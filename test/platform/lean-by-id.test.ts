/**
 * `findLeanById` (platform/db.ts), the hot paths' read by `_id` through the driver, answers what
 * `Model.findById(id).lean()` answers: the same document, null when absent, the same cast of the
 * id (a hex string to an ObjectId) and the same CastError for an id that cannot be cast. That
 * holds only while no model has a find hook or a `select: false` path, which is checked here for
 * every model the service registers.
 */
import { randomBytes } from 'node:crypto';
import mongoose, { Schema, Types } from 'mongoose';
import { expect } from '../support/expect';
import '../../src/modules/models';
import { findLeanById } from '../../src/platform/db';

const suffix = randomBytes(4).toString('hex');
const withObjectId = mongoose.model(
  `LeanByIdOid${suffix}`,
  new Schema(
    {
      name: { type: String, required: true },
      at: Date,
      tags: [String],
      nested: { level: Number, note: String },
      lines: [new Schema({ sku: String, qty: Number }, { _id: false })],
    },
    { collection: `lean_by_id_oid_${suffix}`, versionKey: false },
  ),
);
const withStringId = mongoose.model(
  `LeanByIdStr${suffix}`,
  new Schema(
    { _id: { type: String, required: true }, seq: Number, hash: String },
    { collection: `lean_by_id_str_${suffix}`, versionKey: false },
  ),
);

async function thrown(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return (err as Error).name;
  }
  return 'nothing thrown';
}

describe('platform: a read by `_id` through the driver answers as a lean mongoose query', () => {
  it('no registered model has a find hook or a `select: false` path (either would make them differ)', () => {
    const found: string[] = [];
    for (const model of Object.values(mongoose.models)) {
      const hooks = (
        model.schema as unknown as {
          s: { hooks: { _pres: Map<string, unknown>; _posts: Map<string, unknown> } };
        }
      ).s.hooks;
      for (const op of ['find', 'findOne'])
        if (hooks._pres.has(op) || hooks._posts.has(op))
          found.push(`${model.modelName}: ${op} hook`);
      model.schema.eachPath((path, type) => {
        if ((type.options as { select?: unknown }).select === false)
          found.push(`${model.modelName}: ${path} select: false`);
      });
    }
    expect(found).to.deep.equal([]);
    expect(Object.keys(mongoose.models).length).to.be.greaterThan(40);
  });

  it('the same document, or null, for an ObjectId `_id` given as an ObjectId or its hex string', async () => {
    const [doc] = await withObjectId.create([
      {
        name: '张三',
        at: new Date('2026-11-28T01:02:03Z'),
        tags: ['a', 'b'],
        nested: { level: 2, note: '备注' },
        lines: [{ sku: 'A', qty: 1 }],
      },
    ]);
    const id = doc!._id as Types.ObjectId;
    for (const given of [id, id.toHexString()]) {
      const lean = await withObjectId.findById(given).lean();
      expect(lean).to.have.property('name', '张三');
      expect(await findLeanById(withObjectId, given)).to.deep.equal(lean);
    }
    const absent = new Types.ObjectId();
    expect(await withObjectId.findById(absent).lean()).to.equal(null);
    expect(await findLeanById(withObjectId, absent.toHexString())).to.equal(null);
  });

  it('the same document, or null, for a string `_id`; the same CastError for an id that cannot be cast', async () => {
    await withStringId.create([{ _id: 'h1:7', seq: 7, hash: 'ab' }]);
    expect(await findLeanById(withStringId, 'h1:7')).to.deep.equal(
      await withStringId.findById('h1:7').lean(),
    );
    expect(await findLeanById(withStringId, 'h1:8')).to.equal(null);
    expect(await thrown(findLeanById(withObjectId, 'not-an-object-id'))).to.equal('CastError');
    expect(await thrown(withObjectId.findById('not-an-object-id').lean().exec())).to.equal(
      'CastError',
    );
  });
});

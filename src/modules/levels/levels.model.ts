/**
 * The county's levels above the village: county centres (县 新时代文明实践中心) and township
 * stations (乡镇 实践所). Villages (村 实践站) point at both (villages.model.ts).
 *
 * Each record's `_id` is derived from its name (`levelId`): a county from its name, a township
 * from its county and its name. So placing a village under "松岭镇, 祁丰县" is an insert whose
 * unique primary key decides a race between two requests that both meet the name first, and
 * every later look-up is a lone `_id` read (FerretDB's SQLite backend pushes nothing else down).
 * Names are therefore fixed once a level exists; a renamed township is a new record.
 */
import mongoose, { Schema } from 'mongoose';
import { chainIndexes, chainLinkFields, type ChainLink } from '../../platform/append-chain';

export interface CountyDoc {
  /** `levelId('county', name)` */
  _id: string;
  name: string;
  createdAt: Date;
}

const countySchema = new Schema<CountyDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'counties', versionKey: false, strict: 'throw' },
);
export const County = mongoose.model<CountyDoc>('County', countySchema);

export interface TownshipDoc {
  /** `levelId('township', countyName, name)` */
  _id: string;
  name: string;
  countyId: string;
  county: string;
  createdAt: Date;
}

const townshipSchema = new Schema<TownshipDoc>(
  {
    _id: { type: String, required: true },
    name: { type: String, required: true },
    countyId: { type: String, required: true },
    county: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  { collection: 'townships', versionKey: false, strict: 'throw' },
);
// The county office lists its townships (a scan on FerretDB: a county has ~20).
townshipSchema.index({ countyId: 1, name: 1 }, { name: 'county_name' });
export const Township = mongoose.model<TownshipDoc>('Township', townshipSchema);

/**
 * `township_villages`: a township station's villages as an append-only chain per township
 * (platform/append-chain.ts, `_id` = `<townshipId>#<seq>`), each link carrying the whole list so
 * far. A township user's villages are read with every request, so they must be a primary-key
 * read (the chain's head), not a scan of the villages (FerretDB-SQLite: ~1 ms per village in the
 * collection, measured). A village is added once (unique source `village`:`<villageId>`), before
 * the village itself is stored, so no stored village is ever missing from its township's list.
 */
export interface TownshipVillagesLinkDoc extends ChainLink {
  /** chain = the township id. */
  villageIds: string[];
}

const townshipVillagesSchema = new Schema<TownshipVillagesLinkDoc>(
  { ...chainLinkFields, villageIds: { type: [String], required: true } },
  { collection: 'township_villages', versionKey: false, strict: 'throw' },
);
chainIndexes(townshipVillagesSchema);
for (const op of [
  'updateOne',
  'updateMany',
  'findOneAndUpdate',
  'replaceOne',
  'findOneAndReplace',
  'deleteOne',
  'deleteMany',
  'findOneAndDelete',
] as const) {
  townshipVillagesSchema.pre(op, () => {
    throw new Error('township village lists are append-only');
  });
}
export const TownshipVillages = mongoose.model<TownshipVillagesLinkDoc>(
  'TownshipVillages',
  townshipVillagesSchema,
);

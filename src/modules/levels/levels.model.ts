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

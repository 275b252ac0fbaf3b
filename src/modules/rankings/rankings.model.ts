/**
 * Stored monthly rankings (考评指数), kept for history. `_id` = `<countyId>:<YYYY-MM>:<level>`:
 * the first computation of a finished month is stored once (an insert the unique key
 * arbitrates), and never changed; a recomputation from the records must give the same items.
 */
import mongoose, { Schema } from 'mongoose';
import { RANKING_LEVELS, type RankedItem, type RankingLevel } from './rankings.formula';

export interface RankingDoc {
  _id: string;
  countyId: string;
  period: string;
  level: RankingLevel;
  formulaVersion: number;
  computedAt: Date;
  items: RankedItem[];
}

const rankingSchema = new Schema<RankingDoc>(
  {
    _id: { type: String, required: true },
    countyId: { type: String, required: true },
    period: { type: String, required: true },
    level: { type: String, required: true, enum: RANKING_LEVELS },
    formulaVersion: { type: Number, required: true },
    computedAt: { type: Date, required: true },
    // Plain objects: the items exactly as computed (numbers, null where a metric does not apply).
    items: { type: Schema.Types.Mixed, required: true },
  },
  { collection: 'rankings', versionKey: false, strict: 'throw' },
);
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
  rankingSchema.pre(op, () => {
    throw new Error('stored rankings are never changed');
  });
}
export const Ranking = mongoose.model<RankingDoc>('Ranking', rankingSchema);

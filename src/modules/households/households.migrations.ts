/**
 * One-off passes over the households that `npm start` runs before it serves anything (main.ts):
 * each is idempotent, safe beside live traffic and from several processes, and marked once done.
 */
import { insertNew, setMark } from '../../platform/db';
import {
  Household,
  HouseholdCard,
  HouseholdMark,
  type HouseholdCardDoc,
  type HouseholdDoc,
} from './households.model';

/** Card index entries per insert while the migration writes them. */
const CARD_MIGRATION_BATCH = 1000;
/**
 * The card-index migration's mark in `household_marks`. Once it is there, a card without an entry
 * is no household's (households.service.ts). Its second name: the first version's registrations
 * wrote the entry after the household and could leave one without it, so a database marked by
 * that version is passed over once more.
 */
export const CARD_INDEX_MARK = 'card-index-complete-2';

/**
 * The card-index migration: gives every household registered before the card index its entry,
 * so that the first redemption of each old card does not scan the households (findHouseholdByCard
 * would also write the entry then, one scan per card: at 10,000 households on market day that was
 * 7 redemptions/s). One pass over `households`, once per database: a mark records that it finished
 * (until then it runs again at every start; running it twice, or beside registrations, is
 * harmless: an entry already there is left alone, and a look-up checks the household's own card
 * number anyway). A database without households gets no mark, so a restore into it is indexed at
 * the next start. Returns the entries written.
 */
export async function migrateCardIndex(): Promise<number> {
  if (await HouseholdMark.findById(CARD_INDEX_MARK).lean()) return 0;
  let seen = 0;
  let written = 0;
  let batch: HouseholdCardDoc[] = [];
  const cursor = Household.find({})
    .select({ _id: 1, cardNo: 1 })
    .lean<Pick<HouseholdDoc, '_id' | 'cardNo'>[]>()
    .cursor({ batchSize: CARD_MIGRATION_BATCH });
  for await (const h of cursor) {
    seen++;
    batch.push({ _id: h.cardNo, householdId: h._id.toHexString() });
    if (batch.length >= CARD_MIGRATION_BATCH) {
      written += await insertNew(HouseholdCard, batch);
      batch = [];
    }
  }
  written += await insertNew(HouseholdCard, batch);
  if (!seen) return 0;
  await setMark(HouseholdMark, CARD_INDEX_MARK, { at: new Date() });
  return written;
}

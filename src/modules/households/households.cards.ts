/**
 * Households by id and by card, for every module: read by `_id` through the configuration cache
 * (platform/config-cache.ts), and the card index (`household_cards`, `_id` = card number) that a
 * counter finds a household by. Invariant: a household never exists without its card's entry
 * once the card-index migration has marked the database (households.migrations.ts).
 */
import { Types } from 'mongoose';
import { ConfigCache } from '../../platform/config-cache';
import { findLeanById, registerHints } from '../../platform/db';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import {
  Household,
  HouseholdCard,
  HouseholdMark,
  type HouseholdCardDoc,
  type HouseholdDoc,
} from './households.model';
import { CARD_INDEX_MARK } from './households.migrations';

/** Households by id, cached (platform/config-cache.ts: any change to a household is seen at once). */
const cachedHouseholds = new ConfigCache<HouseholdDoc>('households');

export async function findHousehold(householdId: string): Promise<HouseholdDoc | undefined> {
  if (!Types.ObjectId.isValid(householdId)) return undefined;
  return cachedHouseholds.get(
    householdId,
    async () => (await findLeanById<HouseholdDoc>(Household, householdId)) ?? undefined,
  );
}

/**
 * Card index entries held in this process (config-cache.ts): an entry is only ever checked
 * against the household it names, whose own card number decides, so one that went stale (a
 * reissued card) costs the search below, never a wrong household. A card not in the index is
 * not remembered (it may be registered next).
 */
const cachedCards = new ConfigCache<HouseholdCardDoc>('card index', false);

/**
 * Whether every household's card is in the index: the card-index migration's mark, which it sets
 * once every household has its entry (households.migrations.ts); a household registered since
 * has its entry before it exists (insertHousehold). Remembered once seen, like the other hints
 * about a database (forgotten on connecting).
 */
const indexMarkSeen = registerHints(new Map<string, true>());
async function everyCardIndexed(): Promise<boolean> {
  if (indexMarkSeen.has(CARD_INDEX_MARK)) return true;
  if (!(await HouseholdMark.findById(CARD_INDEX_MARK).lean())) return false;
  indexMarkSeen.set(CARD_INDEX_MARK, true);
  return true;
}

/** A card's index entry (cached; concurrent reads of one card share one read). */
const cardEntry = (cardNo: string) =>
  cachedCards.get(
    cardNo,
    async () => (await findLeanById<HouseholdCardDoc>(HouseholdCard, cardNo)) ?? undefined,
  );

/**
 * The household a card's index entry names, before it is checked against the household: a guess,
 * for reads to begin early (a redemption's heads), never for a decision. Undefined: no entry.
 */
export async function cardHolderGuess(cardNo: string): Promise<string | undefined> {
  return (await cardEntry(cardNo))?.householdId;
}

/**
 * The household behind a card: through the card index by `_id` (checked against the household).
 * A card without an entry is no household's once every card is indexed, and is answered without
 * a search (a mistyped card at a counter would otherwise read every household). Otherwise, and
 * for an entry that names another household (a registration refused or cut short after writing
 * it), a search on `cardNo` (a scan on FerretDB), which writes the entry it finds.
 */
export async function findHouseholdByCard(cardNo: string): Promise<HouseholdDoc | undefined> {
  const card = await cardEntry(cardNo);
  const indexed = card ? await findHousehold(card.householdId) : undefined;
  if (indexed?.cardNo === cardNo) return indexed;
  if (!card && (await everyCardIndexed())) return undefined;
  const h = (await Household.findOne({ cardNo }).lean<HouseholdDoc>()) ?? undefined;
  if (h) await indexCard(cardNo, h._id.toHexString());
  return h;
}

/**
 * Points a card's index entry at the household about to be registered with it, unless the entry
 * names the household that holds the card: then the card is taken and nothing is written.
 */
export async function claimCardEntry(cardNo: string, householdId: string): Promise<void> {
  const entry = await HouseholdCard.findById(cardNo).lean<HouseholdCardDoc>();
  const holder = entry ? await findHousehold(entry.householdId) : undefined;
  if (holder?.cardNo === cardNo) throw cardTaken(cardNo);
  await indexCard(cardNo, householdId);
}

export const cardTaken = (cardNo: string) =>
  new DomainError('card_number_taken', `Card ${cardNo} is already registered.`);

/** Writes a card's index entry (a `$set` by `_id`: repeats and races end with the same value). */
export async function indexCard(cardNo: string, householdId: string): Promise<void> {
  await HouseholdCard.updateOne({ _id: cardNo }, { $set: { householdId } }, { upsert: true }).catch(
    (err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err;
    },
  );
}

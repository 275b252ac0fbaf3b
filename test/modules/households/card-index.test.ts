/**
 * The card index (`household_cards`, `_id` = card number): a terminal finds the household behind a
 * card by `_id` look-ups alone. A filter on `cardNo` reads every household on FerretDB; at 10,000
 * households the first redemption of each card did exactly that.
 */
import mongoose, { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { makeHousehold, makeVillage } from '../../support/factories';
import { findHouseholdByCard } from '../../../src/modules/households/households.service';
import { HouseholdCard } from '../../../src/modules/households/households.model';

/** The filters sent while `run` runs: `<collection> _id` for a lone `_id`, else the filter. */
async function filtersOf(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
    if (!['find', 'findOne', 'updateOne', 'countDocuments'].includes(method)) return;
    const filter = (args[0] ?? {}) as Record<string, unknown>;
    const keys = Object.keys(filter);
    const lone =
      keys.length === 1 &&
      keys[0] === '_id' &&
      (typeof filter._id !== 'object' || filter._id instanceof Types.ObjectId);
    seen.push(`${collection} ${lone ? '_id' : JSON.stringify(filter)}`);
  });
  try {
    await run();
  } finally {
    mongoose.set('debug', false);
  }
  return seen;
}

describe('households: the card index', () => {
  it('a registered household is found by its card with `_id` look-ups only', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    let found: unknown;
    const filters = await filtersOf(async () => (found = await findHouseholdByCard(h.cardNo)));
    expect(found).to.deep.include({ cardNo: h.cardNo, villageId: v.id });
    expect(filters.filter((f) => !f.endsWith(' _id'))).to.deep.equal([]);
    expect(filters).to.include('household_cards _id');
  });

  it('a card without an index entry (registered before the index) is searched once, then indexed', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    await HouseholdCard.deleteOne({ _id: h.cardNo });
    const first = await filtersOf(() => findHouseholdByCard(h.cardNo));
    expect(first).to.include(`households ${JSON.stringify({ cardNo: h.cardNo })}`);
    expect(await HouseholdCard.findById(h.cardNo).lean()).to.include({ householdId: h.id });
    const again = await filtersOf(() => findHouseholdByCard(h.cardNo));
    expect(again.filter((f) => !f.endsWith(' _id'))).to.deep.equal([]);
  });

  it('an unknown card is not found', async () => {
    expect(await findHouseholdByCard('NO-SUCH-CARD')).to.equal(undefined);
  });
});

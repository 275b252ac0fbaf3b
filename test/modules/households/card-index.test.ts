/**
 * The card index (`household_cards`, `_id` = card number): a terminal finds the household behind a
 * card by `_id` look-ups alone. A filter on `cardNo` reads every household on FerretDB; at 10,000
 * households the first redemption of each card did exactly that.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import type { DomainError } from '../../../src/platform/errors';
import { filtersSent, notLoneId } from '../../support/filters';
import { makeHousehold, makeVillage } from '../../support/factories';
import { findHouseholdByCard } from '../../../src/modules/households/households.service';
import { householdOfCard } from '../../../src/modules/redemption/redemption.service';
import { HouseholdCard, HouseholdMark } from '../../../src/modules/households/households.model';
import {
  CARD_INDEX_MARK,
  migrateCardIndex,
} from '../../../src/modules/households/households.migrations';

describe('households: the card index', () => {
  it('a registered household is found by its card with `_id` look-ups only', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    let found: unknown;
    const filters = await filtersSent(async () => (found = await findHouseholdByCard(h.cardNo)));
    expect(found).to.deep.include({ cardNo: h.cardNo, villageId: v.id });
    expect(notLoneId(filters)).to.deep.equal([]);
    expect(filters).to.include('household_cards findOne _id');
  });

  it('a card without an index entry (registered before the index) is searched once, then indexed', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    await HouseholdCard.deleteOne({ _id: h.cardNo });
    const first = await filtersSent(() => findHouseholdByCard(h.cardNo));
    expect(first).to.include(`households findOne ${JSON.stringify({ cardNo: h.cardNo })}`);
    expect(await HouseholdCard.findById(h.cardNo).lean()).to.include({ householdId: h.id });
    const again = await filtersSent(() => findHouseholdByCard(h.cardNo));
    expect(notLoneId(again)).to.deep.equal([]);
  });

  it('at a counter, a new card costs the index and the household (two `_id` reads) and writes nothing; the same card again reads nothing', async () => {
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    let found: { _id: { toHexString(): string } } | undefined;
    const first = await filtersSent(async () => (found = await householdOfCard(h.cardNo)));
    expect(found?._id.toHexString()).to.equal(h.id);
    expect(first).to.deep.equal(['household_cards findOne _id', 'households findOne _id']);
    const again = await filtersSent(() => householdOfCard(h.cardNo));
    expect(again).to.deep.equal([]);
  });

  it('an unknown card is not found', async () => {
    expect(await findHouseholdByCard('NO-SUCH-CARD')).to.equal(undefined);
  });

  it('the start-up migration indexes the cards of households registered before the index, once per database; an entry already there is left alone', async () => {
    const v = await makeVillage();
    const old = [await makeHousehold(v.id), await makeHousehold(v.id), await makeHousehold(v.id)];
    const kept = await makeHousehold(v.id);
    for (const h of old) await HouseholdCard.deleteOne({ _id: h.cardNo });
    await HouseholdMark.deleteOne({ _id: CARD_INDEX_MARK });

    expect(await migrateCardIndex()).to.be.at.least(old.length);
    for (const h of [...old, kept])
      expect(await HouseholdCard.findById(h.cardNo).lean()).to.include({ householdId: h.id });
    for (const h of old) {
      let found: unknown;
      const filters = await filtersSent(async () => (found = await findHouseholdByCard(h.cardNo)));
      expect(found).to.deep.include({ cardNo: h.cardNo });
      expect(notLoneId(filters), 'found by `_id` alone').to.deep.equal([]);
    }
    expect(await HouseholdMark.findById(CARD_INDEX_MARK).lean()).to.not.equal(null);

    // Marked: the next start does not read the households again.
    const late = await makeHousehold(v.id);
    await HouseholdCard.deleteOne({ _id: late.cardNo });
    const second = await filtersSent(async () => expect(await migrateCardIndex()).to.equal(0));
    expect(second.filter((f) => f.startsWith('households '))).to.deep.equal([]);
  });

  describe('once every card is indexed (the migration marked the database)', () => {
    before(async () => {
      await makeHousehold((await makeVillage()).id);
      await migrateCardIndex();
      expect(await HouseholdMark.findById(CARD_INDEX_MARK).lean()).to.not.equal(null);
    });

    it('an unknown card is answered from the index alone: no search of the households', async () => {
      let found: unknown = 'not asked';
      const filters = await filtersSent(
        async () => (found = await findHouseholdByCard('NO-SUCH-7')),
      );
      expect(found).to.equal(undefined);
      expect(notLoneId(filters)).to.deep.equal([]);
    });

    it('a registration writes the card’s entry first; one refused for a taken card leaves the entry naming the holder', async () => {
      const v = await makeVillage();
      const holder = await makeHousehold(v.id);
      let thrown: unknown;
      await makeHousehold(v.id, { cardNo: holder.cardNo }).catch((err: unknown) => (thrown = err));
      expect((thrown as DomainError).reason).to.equal('card_number_taken');
      expect(await HouseholdCard.findById(holder.cardNo).lean()).to.include({
        householdId: holder.id,
      });
      let found: { _id: { toHexString(): string } } | undefined;
      const filters = await filtersSent(
        async () => (found = await findHouseholdByCard(holder.cardNo)),
      );
      expect(found?._id.toHexString()).to.equal(holder.id);
      expect(notLoneId(filters)).to.deep.equal([]);
    });

    it('registrations of one new card at once: one household, whose card is then found by `_id` alone', async () => {
      const v = await makeVillage();
      const cardNo = `RACE-${new Types.ObjectId().toHexString()}`;
      const tries = await Promise.allSettled(
        Array.from({ length: 5 }, () => makeHousehold(v.id, { cardNo })),
      );
      const made = tries.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
      expect(made).to.have.length(1);
      for (const t of tries)
        if (t.status === 'rejected')
          expect((t.reason as DomainError).reason).to.equal('card_number_taken');
      let found: { _id: { toHexString(): string } } | undefined;
      const filters = await filtersSent(async () => (found = await findHouseholdByCard(cardNo)));
      expect(found?._id.toHexString()).to.equal(made[0]!.id);
      expect(notLoneId(filters)).to.deep.equal([]);
    });

    it('a registration cut short after its entry leaves no household behind the card, and the card can be registered', async () => {
      const v = await makeVillage();
      const cardNo = `CUT-${new Types.ObjectId().toHexString()}`;
      // What a crash between the entry and the household leaves: an entry naming no household.
      await HouseholdCard.create({ _id: cardNo, householdId: new Types.ObjectId().toHexString() });
      expect(await findHouseholdByCard(cardNo)).to.equal(undefined);
      const h = await makeHousehold(v.id, { cardNo });
      let found: { _id: { toHexString(): string } } | undefined;
      const filters = await filtersSent(async () => (found = await findHouseholdByCard(cardNo)));
      expect(found?._id.toHexString()).to.equal(h.id);
      expect(notLoneId(filters)).to.deep.equal([]);
    });
  });
});

/**
 * The card index (`household_cards`, `_id` = card number): a terminal finds the household behind a
 * card by `_id` look-ups alone. A filter on `cardNo` reads every household on FerretDB; at 10,000
 * households the first redemption of each card did exactly that.
 */
import { expect } from '../../support/expect';
import { filtersSent, notLoneId } from '../../support/filters';
import { makeHousehold, makeVillage } from '../../support/factories';
import { findHouseholdByCard } from '../../../src/modules/households/households.service';
import { HouseholdCard } from '../../../src/modules/households/households.model';

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

  it('an unknown card is not found', async () => {
    expect(await findHouseholdByCard('NO-SUCH-CARD')).to.equal(undefined);
  });
});

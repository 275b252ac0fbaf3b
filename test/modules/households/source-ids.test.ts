/**
 * What an entry's `sourceId` carries: an opaque id of the record behind it (an adjustment, a
 * submission, a redemption), never an internal user id or a caller's raw Idempotency-Key.
 * The entry is shown to the household and hashed for ever, so this holds from seq 1.
 */
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeHousehold,
  makeUser,
  makeVillage,
  verifyChainViaApi,
  type TestUser,
} from '../../support/factories';

describe('sourceId of the entries a household reads', () => {
  let admin: TestUser;

  before(async () => {
    admin = await makeAdmin();
  });

  it('an adjustment sent with an Idempotency-Key carries an opaque id, not the admin’s user id or the key; a retry still posts once', async () => {
    const village = await makeVillage();
    const h = await makeHousehold(village.id);
    const other = await makeHousehold(village.id);
    const household = await makeUser('household', { householdId: h.id });
    const key = 'fix-2026-11-0001';
    const post = (householdId: string, points: number) =>
      http()
        .post(`/v1/households/${householdId}/adjustments`)
        .set(admin.auth)
        .set('Idempotency-Key', key)
        .send({ points, reason: '更正录入错误' });

    const first = await post(h.id, 7);
    expect(first.status, JSON.stringify(first.body)).to.equal(201);
    const again = await post(h.id, 7);
    expect(again.status).to.equal(201);
    expect(again.body).to.deep.equal(first.body);
    expect((await post(h.id, 8)).status).to.equal(422);
    const elsewhere = await post(other.id, 7);
    expect(elsewhere.status).to.equal(201);
    expect(elsewhere.body.sourceId).to.not.equal(first.body.sourceId);

    const entries = await verifyChainViaApi(h.id, household.auth);
    expect(entries).to.have.length(1);
    for (const e of entries) {
      expect(e.sourceId).to.match(/^[a-f0-9]{24}$/);
      expect(e.sourceId).to.not.contain(admin.user.id);
      expect(e.sourceId).to.not.contain(key);
      expect(JSON.stringify(e)).to.not.contain(admin.user.id);
    }
  });

  it('an adjustment without a key carries a fresh opaque id each time', async () => {
    const h = await makeHousehold((await makeVillage()).id);
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) {
      const res = await http()
        .post(`/v1/households/${h.id}/adjustments`)
        .set(admin.auth)
        .send({ points: 1, reason: '补录' });
      expect(res.status).to.equal(201);
      ids.push(res.body.sourceId);
    }
    expect(ids[0]).to.match(/^[a-f0-9]{24}$/);
    expect(ids[0]).to.not.equal(ids[1]);
  });
});

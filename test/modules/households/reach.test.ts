/**
 * Reach: a clerk, council member or household sees only its own village (a household only
 * itself); a record outside reach is 404, answered exactly as for a record that does not exist,
 * so its existence is not revealed. Roles without household access get 403.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeCooperative,
  makeHousehold,
  makeUser,
  makeVillage,
  type TestUser,
} from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import type { HouseholdView } from '../../../src/modules/households/households.service';

describe('household reach', () => {
  let admin: TestUser;
  let villageA: string;
  let villageB: string;
  let hA: HouseholdView;
  let hA2: HouseholdView;
  let hB: HouseholdView;
  const users: Record<string, TestUser> = {};

  const readUrls = (id: string) => [
    `/v1/households/${id}`,
    `/v1/households/${id}/account`,
    `/v1/households/${id}/entries`,
  ];

  before(async () => {
    admin = await makeAdmin();
    villageA = (await makeVillage()).id;
    villageB = (await makeVillage()).id;
    hA = await makeHousehold(villageA);
    hA2 = await makeHousehold(villageA);
    hB = await makeHousehold(villageB);
    users.clerkA = await makeUser('clerk', { villageId: villageA });
    users.councilA = await makeUser('council', { villageId: villageA });
    users.householdA = await makeUser('household', { householdId: hA.id });
    users.householdA2 = await makeUser('household', { householdId: hA2.id });
    users.clerkB = await makeUser('clerk', { villageId: villageB });
    users.councilB = await makeUser('council', { villageId: villageB });
    users.householdB = await makeUser('household', { householdId: hB.id });
    await http()
      .post(`/v1/households/${hA.id}/adjustments`)
      .set(admin.auth)
      .send({ points: 10, reason: '初始' });
  });

  for (const who of ['clerkB', 'councilB', 'householdB']) {
    it(`a ${who.replace('B', '')} of another village gets 404 for a household of this one (household, account, entries, inquiries), the same answer as for no household at all`, async () => {
      const missing = new Types.ObjectId().toHexString();
      for (const [url, none] of readUrls(hA.id).map(
        (u, i) => [u, readUrls(missing)[i]!] as const,
      )) {
        const res = await http().get(url).set(users[who]!.auth);
        expect(res.status, url).to.equal(404);
        expect(res.body.code).to.equal('not_found');
        const absent = await http().get(none).set(users[who]!.auth);
        expect(absent.status).to.equal(404);
        expect(res.body).to.deep.equal(absent.body);
      }
      const inquiries = await http().get(`/v1/households/${hA.id}/inquiries`).set(users[who]!.auth);
      const inquiriesNone = await http()
        .get(`/v1/households/${missing}/inquiries`)
        .set(users[who]!.auth);
      // Council members may not read credit look-ups at all (403 whatever the household).
      expect(inquiries.status).to.equal(who === 'councilB' ? 403 : 404);
      expect(inquiries.body).to.deep.equal(inquiriesNone.body);
    });
  }

  it('the clerk and council of the village and the household itself read it', async () => {
    for (const who of ['clerkA', 'councilA', 'householdA']) {
      for (const url of readUrls(hA.id)) {
        const res = await http().get(url).set(users[who]!.auth);
        expect(res.status, `${who} ${url}`).to.equal(200);
      }
    }
    const account = await http().get(`/v1/households/${hA.id}/account`).set(users.householdA!.auth);
    expect(account.body).to.include({ spendable: 10, merit: 10 });
    for (const who of ['clerkA', 'householdA']) {
      expect(
        (await http().get(`/v1/households/${hA.id}/inquiries`).set(users[who]!.auth)).status,
      ).to.equal(200);
    }
  });

  it('a household sees only itself: a neighbour in the same village is 404', async () => {
    for (const url of [...readUrls(hA.id), `/v1/households/${hA.id}/inquiries`]) {
      const res = await http().get(url).set(users.householdA2!.auth);
      expect(res.status, url).to.equal(404);
    }
  });

  it('GET /v1/households › a clerk lists only their own village; naming another village is 404; a household may not list', async () => {
    const own = await http().get('/v1/households').set(users.clerkB!.auth);
    expect(own.status).to.equal(200);
    expect(own.body.items.map((h: HouseholdView) => h.villageId)).to.satisfy(
      (ids: string[]) => ids.length > 0 && ids.every((v) => v === villageB),
    );
    const other = await http().get(`/v1/households?villageId=${villageA}`).set(users.clerkB!.auth);
    expect(other.status).to.equal(404);
    const council = await http()
      .get(`/v1/households?villageId=${villageA}`)
      .set(users.councilB!.auth);
    expect(council.status).to.equal(404);
    const household = await http().get('/v1/households').set(users.householdA!.auth);
    expect(household.status).to.equal(403);
  });

  it('GET /v1/households › ?villageId[$ne]=x and ?status[$ne]=x are refused, not turned into operators', async () => {
    for (const q of [
      'villageId[$ne]=x',
      'status[$ne]=x',
      'villageId[$gt]=',
      `villageId=${villageA}&villageId=${villageB}`,
      'limit[$gt]=0',
      'after[$gt]=0',
    ]) {
      const res = await http().get(`/v1/households?${q}`).set(users.clerkB!.auth);
      expect(res.status, q).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
    }
  });

  it('GET /v1/villages/:id › another village is 404 for a clerk, council member or household', async () => {
    for (const who of ['clerkB', 'councilB', 'householdB']) {
      const res = await http().get(`/v1/villages/${villageA}`).set(users[who]!.auth);
      expect(res.status, who).to.equal(404);
    }
    const list = await http().get('/v1/villages').set(users.clerkB!.auth);
    expect(list.body.items.map((v: { id: string }) => v.id)).to.deep.equal([villageB]);
  });

  it('officers have no household routes (403)', async () => {
    const officer = await makeUser('officer', {
      cooperativeId: (await makeCooperative([villageA])).id,
    });
    for (const url of [...readUrls(hA.id), `/v1/households/${hA.id}/inquiries`, '/v1/households']) {
      const res = await http().get(url).set(officer.auth);
      expect(res.status, url).to.equal(403);
      expect(res.body.code).to.equal('forbidden');
    }
  });

  describe('writes outside reach', () => {
    it('POST /v1/households › a clerk creating a household in another village is refused and nothing is stored', async () => {
      const before = await countAll();
      const res = await http()
        .post('/v1/households')
        .set(users.clerkB!.auth)
        .send({ villageId: villageA, head: '钱七', cardNo: `X${Date.now()}` });
      expect(res.status).to.equal(403);
      expect(res.body.code).to.equal('forbidden');
      await expectNothingStored(before);
    });

    it('POST /v1/households › council members and households may not create households', async () => {
      const before = await countAll();
      for (const who of ['councilA', 'householdA']) {
        const res = await http()
          .post('/v1/households')
          .set(users[who]!.auth)
          .send({ villageId: villageA, head: '钱七', cardNo: `Y${Date.now()}` });
        expect(res.status, who).to.equal(403);
      }
      await expectNothingStored(before);
    });

    it('POST /v1/households/:id/adjustments › only an admin adjusts: clerk, council and household get 403 and nothing is stored', async () => {
      const before = await countAll();
      for (const who of ['clerkA', 'councilA', 'householdA']) {
        const res = await http()
          .post(`/v1/households/${hA.id}/adjustments`)
          .set(users[who]!.auth)
          .send({ points: 1000, reason: '自己加分' });
        expect(res.status, who).to.equal(403);
      }
      await expectNothingStored(before);
    });
  });
});

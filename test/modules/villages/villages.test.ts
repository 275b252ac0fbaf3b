/**
 * Villages: created by the county office with a council policy; the policy's quorum is a whole
 * number ≥ 1 and its notice period an ISO-8601 duration; codes are unique.
 */
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import { http, makeAdmin, makeUser, unique, type TestUser } from '../../support/factories';
import { countAll, expectNothingStored, type Counts } from '../../support/snapshot';

describe('villages', () => {
  let admin: TestUser;
  before(async () => {
    admin = await makeAdmin();
  });

  const newVillage = (extra: Record<string, unknown> = {}) => ({
    name: '桃源村',
    code: unique('TY'),
    township: '桃源镇',
    county: '桃源县',
    ...extra,
  });
  const post = (body: unknown, auth = admin.auth) =>
    http()
      .post('/v1/villages')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));

  describe('POST /v1/villages', () => {
    it('creates a village: 201 with its id and the default policy (quorum 3, notice P7D)', async () => {
      const body = newVillage();
      const res = await post(body);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body).to.include({
        name: '桃源村',
        code: body.code,
        township: '桃源镇',
        county: '桃源县',
      });
      expect(res.body.id).to.match(/^[0-9a-f]{24}$/);
      expect(res.body.policy).to.include({ quorum: 3, noticePeriod: 'P7D' });
      const read = await http().get(`/v1/villages/${res.body.id}`).set(admin.auth);
      expect(read.body).to.deep.equal(res.body);
    });

    it('takes a policy at creation', async () => {
      const res = await post(newVillage({ policy: { quorum: 1, noticePeriod: 'PT0S' } }));
      expect(res.status).to.equal(201);
      expect(res.body.policy).to.include({ quorum: 1, noticePeriod: 'PT0S' });
    });

    it('a code already taken is 409 conflict; five creates of one code at once make one village', async () => {
      const code = unique('DUP');
      expect((await post(newVillage({ code }))).status).to.equal(201);
      const again = await post(newVillage({ code, name: '另一个村' }));
      expect(again.status).to.equal(409);
      expect(again.body.code).to.equal('conflict');
      const code2 = unique('DUP');
      const replies = await Promise.all(
        Array.from({ length: 5 }, () => post(newVillage({ code: code2 }))),
      );
      expect(replies.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409, 409]);
    });

    it('only the county office creates villages: a clerk gets 403 and nothing is stored', async () => {
      const village = await post(newVillage());
      const clerk = await makeUser('clerk', { villageId: village.body.id });
      const before = await countAll();
      const res = await post(newVillage(), clerk.auth);
      expect(res.status).to.equal(403);
      await expectNothingStored(before);
    });

    it('refuses a bad code, a blank name or a missing county with 400; nothing stored', async () => {
      const before = await countAll();
      for (const body of [
        newVillage({ code: 'a b' }),
        newVillage({ code: '' }),
        newVillage({ code: 'x'.repeat(33) }),
        newVillage({ name: '  ' }),
        { name: '桃源村', code: unique('C'), township: '桃源镇' },
      ]) {
        const res = await post(body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.code).to.equal('validation_failed');
      }
      await expectNothingStored(before);
    });
  });

  const badQuorums: unknown[] = [0, -1, 1.5, '3', null, [], {}, true, 51, { $gt: 0 }];
  const badNotices: unknown[] = [
    '7 days',
    'P',
    'PT',
    'P7DT',
    'p7d',
    '-P7D',
    ' P7D',
    'P7.5D',
    'P1Y',
    'P1M',
    'PT1H30',
    7,
    null,
    '',
    { $ne: null },
  ];
  const goodNotices = ['P7D', 'PT0S', 'PT36H', 'P1DT12H', 'PT90M', 'P0D'];

  describe('policy on POST /v1/villages', () => {
    // One snapshot for the whole table, compared after its last case (counting every collection
    // twice per case made each refused request cost about a second under load).
    let stored: Counts;
    before(async () => {
      stored = await countAll();
    });
    for (const quorum of badQuorums) {
      it(`refuses quorum ${JSON.stringify(quorum)} with 400 at policy.quorum`, async () => {
        const res = await post(newVillage({ policy: { quorum, noticePeriod: 'P7D' } }));
        expect(res.status).to.equal(400);
        expect(
          res.body.errors.some((e: { path: string }) => e.path.startsWith('policy.quorum')),
        ).to.equal(true);
      });
    }
    for (const noticePeriod of badNotices) {
      it(`refuses noticePeriod ${JSON.stringify(noticePeriod)} with 400 at policy.noticePeriod`, async () => {
        const res = await post(newVillage({ policy: { quorum: 2, noticePeriod } }));
        expect(res.status).to.equal(400);
        expect(
          res.body.errors.some((e: { path: string }) => e.path.startsWith('policy.noticePeriod')),
        ).to.equal(true);
      });
    }
    it('refuses a policy missing its quorum or notice period, or with an unknown field', async () => {
      for (const policy of [
        { quorum: 2 },
        { noticePeriod: 'P7D' },
        { quorum: 2, noticePeriod: 'P7D', approvers: 9 },
      ]) {
        const res = await post(newVillage({ policy }));
        expect(res.status, JSON.stringify(policy)).to.equal(400);
      }
    });
    it('nothing was stored by any refused policy above', async () => {
      await expectNothingStored(stored);
    });
  });

  describe('PATCH /v1/villages/:id', () => {
    let villageId: string;
    before(async () => {
      villageId = (await post(newVillage())).body.id;
    });
    const patch = (body: unknown, id = villageId, auth = admin.auth) =>
      http()
        .patch(`/v1/villages/${id}`)
        .set(auth)
        .set('Content-Type', 'application/json')
        .send(JSON.stringify(body));

    it('sets the quorum and the notice period, each alone or together, and GET shows them', async () => {
      expect((await patch({ policy: { quorum: 5 } })).body.policy).to.include({
        quorum: 5,
        noticePeriod: 'P7D',
      });
      expect((await patch({ policy: { noticePeriod: 'PT0S' } })).body.policy).to.include({
        quorum: 5,
        noticePeriod: 'PT0S',
      });
      for (const noticePeriod of goodNotices) {
        const res = await patch({ policy: { quorum: 1, noticePeriod } });
        expect(res.status, noticePeriod).to.equal(200);
        expect(res.body.policy).to.include({ quorum: 1, noticePeriod });
      }
      const read = await http().get(`/v1/villages/${villageId}`).set(admin.auth);
      expect(read.body.policy).to.include({
        quorum: 1,
        noticePeriod: goodNotices[goodNotices.length - 1],
      });
    });

    it('refuses bad quorums and notice periods with 400 and changes nothing', async () => {
      const before = (await http().get(`/v1/villages/${villageId}`).set(admin.auth)).body;
      for (const quorum of badQuorums) {
        const res = await patch({ policy: { quorum } });
        expect(res.status, JSON.stringify(quorum)).to.equal(400);
      }
      for (const noticePeriod of badNotices) {
        const res = await patch({ policy: { noticePeriod } });
        expect(res.status, JSON.stringify(noticePeriod)).to.equal(400);
      }
      for (const body of [
        {},
        { policy: null },
        { policy: 'P7D' },
        { name: '改名' },
        { code: 'NEW' },
        { policy: { quorum: 2 }, county: '别的县' },
      ]) {
        const res = await patch(body);
        expect(res.status, JSON.stringify(body)).to.equal(400);
      }
      expect((await http().get(`/v1/villages/${villageId}`).set(admin.auth)).body).to.deep.equal(
        before,
      );
    });

    it('a village that does not exist is 404; a malformed id is 400', async () => {
      expect(
        (await patch({ policy: { quorum: 2 } }, new Types.ObjectId().toHexString())).status,
      ).to.equal(404);
      expect((await patch({ policy: { quorum: 2 } }, 'nope')).status).to.equal(400);
    });

    it('only the county office sets a policy: the clerk of the village gets 403 and nothing changes', async () => {
      const clerk = await makeUser('clerk', { villageId });
      const before = (await http().get(`/v1/villages/${villageId}`).set(admin.auth)).body;
      const res = await patch({ policy: { quorum: 1 } }, villageId, clerk.auth);
      expect(res.status).to.equal(403);
      expect((await http().get(`/v1/villages/${villageId}`).set(admin.auth)).body).to.deep.equal(
        before,
      );
    });
  });
});

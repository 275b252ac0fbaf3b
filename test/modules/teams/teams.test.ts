/**
 * Teams by category at county, township and village level, and membership over time: joins and
 * leaves are appended, never edited, and decided against the chain so that two joins at once
 * cannot both succeed.
 */
import { expect } from '../../support/expect';
import { http, makeUser } from '../../support/factories';
import { TeamMembership } from '../../../src/modules/teams/teams.model';
import { makeServiceScene, testIdNumber, type ServiceScene } from '../service-orders/scene';

describe('volunteer teams (TM1, TM2)', () => {
  let s: ServiceScene;
  before(async () => {
    s = await makeServiceScene();
  });

  it('sets teams up at each level by the right office: the clerk its village, the township its own, the county office the county', async () => {
    const village = await http()
      .post('/v1/teams')
      .set(s.clerk.auth)
      .send({ name: '文化文艺队', category: 'culture', level: 'village' });
    expect(village.status, JSON.stringify(village.body)).to.equal(201);
    expect(village.body).to.include({
      level: 'village',
      villageId: s.villageId,
      townshipId: s.townshipId,
      countyId: s.countyId,
    });
    const township = await http()
      .post('/v1/teams')
      .set(s.township.auth)
      .send({ name: '镇法律服务队', category: 'legal', level: 'township' });
    expect(township.body).to.include({ level: 'township', townshipId: s.townshipId });
    const county = await http()
      .post('/v1/teams')
      .set(s.admin.auth)
      .send({ name: '县科普队', category: 'science', level: 'county', countyId: s.countyId });
    expect(county.body).to.include({ level: 'county', countyId: s.countyId });
    // Not theirs to set up.
    expect(
      (
        await http()
          .post('/v1/teams')
          .set(s.clerk.auth)
          .send({ name: 'x', category: 'legal', level: 'township', townshipId: s.townshipId })
      ).status,
    ).to.equal(400);
    expect(
      (
        await http()
          .post('/v1/teams')
          .set(s.township.auth)
          .send({ name: 'x', category: 'legal', level: 'county' })
      ).status,
    ).to.equal(403);
    expect(
      (
        await http()
          .post('/v1/teams')
          .set(s.otherTownship.auth)
          .send({ name: 'x', category: 'care', level: 'village', villageId: s.villageId })
      ).status,
    ).to.equal(400);
    expect(
      (
        await http()
          .post('/v1/teams')
          .set(s.supervisor.auth)
          .send({ name: 'x', category: 'care', level: 'village' })
      ).status,
    ).to.equal(403);
    expect(
      (
        await http()
          .post('/v1/teams')
          .set(s.clerk.auth)
          .send({ name: 'x', category: 'no-such-category', level: 'village' })
      ).body.errors[0].path,
    ).to.equal('category');
    // The village sees its own teams and those above it; another township sees none of them.
    const seen = (await http().get('/v1/teams').set(s.households[0]!.user.auth)).body.items.map(
      (t: { id: string }) => t.id,
    );
    expect(seen).to.include.members([village.body.id, township.body.id, county.body.id, s.team.id]);
    const otherVillageClerk = await makeUser('clerk', { villageId: s.otherVillageId });
    const theirs = (await http().get('/v1/teams').set(otherVillageClerk.auth)).body.items.map(
      (t: { id: string }) => t.id,
    );
    expect(theirs).to.include(county.body.id);
    expect(theirs).to.not.include.members([village.body.id]);
    expect(theirs).to.not.include(township.body.id);
    expect(
      (await http().get(`/v1/teams/${village.body.id}`).set(s.otherTownship.auth)).status,
    ).to.equal(404);
  });

  it('records joins and leaves over time, append-only: a second join at once is 409, a leave without a join is 409, a rejoin is a new record', async () => {
    const team = (
      await http()
        .post('/v1/teams')
        .set(s.clerk.auth)
        .send({ name: '环保队', category: 'environment', level: 'village' })
    ).body;
    const v = (
      await http()
        .post('/v1/volunteers')
        .set(s.clerk.auth)
        .send({ name: '郑十', idNumber: testIdNumber() })
    ).body;
    const joins = await Promise.all(
      Array.from({ length: 4 }, () =>
        http().post(`/v1/teams/${team.id}/members`).set(s.clerk.auth).send({ volunteerId: v.id }),
      ),
    );
    expect(joins.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409]);
    const leave = await http().delete(`/v1/teams/${team.id}/members/${v.id}`).set(s.clerk.auth);
    expect([leave.status, leave.body.type, leave.body.seq]).to.deep.equal([200, 'leave', 2]);
    expect(
      (await http().delete(`/v1/teams/${team.id}/members/${v.id}`).set(s.clerk.auth)).status,
    ).to.equal(409);
    expect(
      (
        await http()
          .post(`/v1/teams/${team.id}/members`)
          .set(s.clerk.auth)
          .send({ volunteerId: v.id })
      ).body.seq,
    ).to.equal(3);
    const detail = (await http().get(`/v1/teams/${team.id}`).set(s.clerk.auth)).body;
    expect(
      detail.members.map((m: { volunteerId: string; name: string }) => [m.volunteerId, m.name]),
    ).to.deep.equal([[v.id, '郑十']]);
    expect(detail.history.map((h: { type: string }) => h.type)).to.deep.equal([
      'join',
      'leave',
      'join',
    ]);
    expect(await TeamMembership.countDocuments({ teamId: team.id })).to.equal(3);
    // Only the team's managers change it.
    expect(
      (
        await http()
          .post(`/v1/teams/${team.id}/members`)
          .set(s.council[0]!.auth)
          .send({ volunteerId: v.id })
      ).status,
    ).to.equal(403);
    expect(
      (
        await http()
          .post(`/v1/teams/${team.id}/members`)
          .set(s.otherTownship.auth)
          .send({ volunteerId: v.id })
      ).status,
    ).to.equal(404);
  });
});

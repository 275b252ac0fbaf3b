/**
 * S6: a deed's `occurredOn` lies within the window the village policy sets (default 90 days
 * back, never in the future), in Asia/Shanghai calendar days. Without it, every backdated month
 * had a cap of its own: `1990-11-20` and `0001-01-01` were accepted.
 */
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { clock } from '../../../src/platform/clock';
import { file, fileVia, makeCouncilScene, resetClock } from './scene';

const DAY_MS = 24 * 3600_000;
/** The Asia/Shanghai date `days` from now by the service clock. */
const shanghaiDay = (days = 0) =>
  new Date(clock.now().getTime() + 8 * 3600_000 + days * DAY_MS).toISOString().slice(0, 10);

describe('S6 POST /v1/submissions › occurredOn within the village window', () => {
  afterEach(() => resetClock());

  it('refuses a deed before the window (1990-11-20, 0001-01-01, 91 days back) or in the future with 400 naming occurredOn; nothing stored', async () => {
    const s = await makeCouncilScene({ rule: { points: 10, capPerMonth: 10 } });
    const before = await countAll();
    for (const occurredOn of [
      '1990-11-20',
      '0001-01-01',
      shanghaiDay(-91),
      shanghaiDay(1),
      '2999-01-01',
    ]) {
      for (const body of [
        { occurredOn },
        { occurredOn, householdId: undefined, households: [{ householdId: s.households[1]!.id }] },
      ]) {
        const res = await fileVia(s, body);
        expect(res.status, `${occurredOn}: ${JSON.stringify(res.body)}`).to.equal(400);
        expect(res.body.code).to.equal('validation_failed');
        expect(res.body.errors.map((e: { path: string }) => e.path)).to.include('occurredOn');
      }
    }
    await expectNothingStored(before);
    // The edges themselves are inside: 90 days back and today.
    expect((await file(s, { occurredOn: shanghaiDay(-90) })).occurredOn).to.equal(shanghaiDay(-90));
    expect(
      (await file(s, { occurredOn: shanghaiDay(0), householdId: s.households[2]!.id })).occurredOn,
    ).to.equal(shanghaiDay(0));
  });

  it('counts days in Asia/Shanghai: at 01:00 Beijing time the Beijing date is today, not the future', async () => {
    clock.now = () => new Date('2026-06-01T17:00:00Z'); // 2026-06-02 01:00 in Asia/Shanghai
    const s = await makeCouncilScene();
    expect((await file(s, { occurredOn: '2026-06-02' })).occurredOn).to.equal('2026-06-02');
    expect((await fileVia(s, { occurredOn: '2026-06-03' })).status).to.equal(400);
    expect((await file(s, { occurredOn: '2026-03-04' })).occurredOn).to.equal('2026-03-04'); // 90 days before 2026-06-02
    const early = await fileVia(s, { occurredOn: '2026-03-03' });
    expect(early.status).to.equal(400);
    expect(early.body.errors[0].message).to.contain('2026-03-04');
  });

  it('the window is the village policy: PATCH /v1/villages/:id {policy: {occurredOnWindowDays}} widens or narrows it', async () => {
    const s = await makeCouncilScene();
    const village = await http().get(`/v1/villages/${s.villageId}`).set(s.admin.auth);
    expect(village.body.policy.occurredOnWindowDays).to.equal(90);
    expect((await fileVia(s, { occurredOn: shanghaiDay(-200) })).status).to.equal(400);

    const widened = await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { occurredOnWindowDays: 365 } });
    expect(widened.status, JSON.stringify(widened.body)).to.equal(200);
    expect(widened.body.policy).to.include({ occurredOnWindowDays: 365 });
    expect((await file(s, { occurredOn: shanghaiDay(-200) })).occurredOn).to.equal(
      shanghaiDay(-200),
    );

    const todayOnly = await http()
      .patch(`/v1/villages/${s.villageId}`)
      .set(s.admin.auth)
      .send({ policy: { occurredOnWindowDays: 0 } });
    expect(todayOnly.body.policy).to.include({ occurredOnWindowDays: 0 });
    expect((await fileVia(s, { occurredOn: shanghaiDay(-1) })).status).to.equal(400);

    for (const bad of [-1, 1.5, 3661, '30', null]) {
      const res = await http()
        .patch(`/v1/villages/${s.villageId}`)
        .set(s.admin.auth)
        .send({ policy: { occurredOnWindowDays: bad } });
      expect(res.status, String(bad)).to.equal(400);
      expect(res.body.errors[0].path).to.equal('policy.occurredOnWindowDays');
    }
    expect(
      (
        await http()
          .patch(`/v1/villages/${s.villageId}`)
          .set(s.clerk.auth)
          .send({ policy: { occurredOnWindowDays: 3000 } })
      ).status,
    ).to.equal(403);
  });
});

/**
 * Monthly rankings from the records: a month's ranking stored by the job equals the ranking
 * recomputed from the records, also after more happened in later months; it is read at
 * GET /v1/rankings and shown on the village board.
 */
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { clock } from '../../../src/platform/clock';
import { RANKINGS_QUEUE, rankingJobs } from '../../../src/modules/rankings/rankings.jobs';
import { Ranking } from '../../../src/modules/rankings/rankings.model';
import { computeRanking, rankFinishedMonths } from '../../../src/modules/rankings/rankings.service';
import { resetClock, voteVia, type Json } from '../submissions/scene';
import { fullLoop, makeServiceScene, ok, order, type ServiceScene } from '../service-orders/scene';

/** Moves the service clock to an absolute instant (the tests' months lie in the future). */
function setClock(at: Date): void {
  const offset = at.getTime() - Date.now();
  clock.now = () => new Date(Date.now() + offset);
}

async function approveAll(s: ServiceScene, rated: Json): Promise<void> {
  for (const x of rated.submissions as { submissionId: string }[]) {
    await voteVia(x.submissionId, s.council[0]!);
    const res = await voteVia(x.submissionId, s.council[1]!);
    expect(res.body.status).to.equal('posted');
  }
}

describe('monthly rankings (考评指数) (K1, K2)', () => {
  afterEach(() => resetClock());

  it('stores a finished month once, and recomputing it from the records gives the same items, also after later months added records', async function () {
    this.timeout(180_000);
    const s = await makeServiceScene({ quorum: 2, noticePeriod: 'PT0S' });
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 2, 1));
    const period = monthStart.toISOString().slice(0, 7);
    setClock(new Date(monthStart.getTime() + 4 * 24 * 3600_000));
    const a = await fullLoop(s, [3, 2, 1], { stars: 5 });
    await approveAll(s, a);
    const b = await fullLoop(s, [1, 1, 1], { stars: 3 });
    await approveAll(s, b);
    const waiting = await order(s);
    await ok(s, waiting.id, 'dispatch', { teamId: s.team.id });
    await ok(s, waiting.id, 'accept', { volunteerIds: [s.volunteers[0]!.id] });

    // The month ends; an hour later the job ranks it (and finds nothing else to do when run again).
    setClock(
      new Date(Date.UTC(monthStart.getUTCFullYear(), monthStart.getUTCMonth() + 1, 1, 1, 0, 1)),
    );
    expect((await rankFinishedMonths()).stored).to.be.at.least(3);
    expect((await rankFinishedMonths()).stored).to.equal(0);
    const stored = await Ranking.find({ countyId: s.countyId, period }).lean();
    expect(stored.map((r) => r.level).sort()).to.deep.equal(['team', 'township', 'village']);

    const village = stored
      .find((r) => r.level === 'village')!
      .items.find((i) => i.id === s.villageId)!;
    expect(village).to.include({
      ordersCompleted: 2,
      averageStars: 4,
      pointsAwarded: (3 + 2 + 1 + 1) * 2,
      rank: 1,
    });
    expect(village.activeHouseholdShare).to.equal(0.75); // 3 of 4 households: the requester and two volunteers' households
    const team = stored.find((r) => r.level === 'team')!.items.find((i) => i.id === s.team.id)!;
    expect(team).to.include({ ordersCompleted: 2, pointsAwarded: 14, hoursPerResident: null });

    // Later months add records; the finished month recomputes to exactly what was stored.
    const later = await fullLoop(s, [5, 5, 5], { stars: 1 });
    await approveAll(s, later);
    for (const r of stored)
      expect(await computeRanking(s.countyId, period, r.level), r.level).to.deep.equal(r.items);

    const res = await http().get(`/v1/rankings?period=${period}&level=village`).set(s.clerk.auth);
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.include({ period, level: 'village', final: true, countyId: s.countyId });
    expect(res.body.items).to.deep.equal(stored.find((r) => r.level === 'village')!.items);
    const board = await http()
      .get(`/v1/villages/${s.villageId}/boards?month=${period}`)
      .set(s.households[2]!.user.auth);
    expect(board.body.ranking).to.include({ period, rank: 1, of: 3 });

    // The running month is computed on the spot and marked provisional; a month not begun is refused.
    const running = await http()
      .get(`/v1/rankings?period=${clock.now().toISOString().slice(0, 7)}&level=team`)
      .set(s.township.auth);
    expect([running.status, running.body.final]).to.deep.equal([200, false]);
    expect(running.body.items[0]).to.include({ ordersCompleted: 1, averageStars: 1 });
    expect(
      (await http().get('/v1/rankings?period=2999-01&level=team').set(s.township.auth)).status,
    ).to.equal(400);
  });

  it('answers 404 for another county and 400 for a bad level or period', async () => {
    const s = await makeServiceScene();
    const other = await makeServiceScene();
    expect(
      (
        await http()
          .get(`/v1/rankings?period=2024-01&level=village&countyId=${other.countyId}`)
          .set(s.clerk.auth)
      ).status,
    ).to.equal(404);
    expect(
      (
        await http()
          .get(`/v1/rankings?period=2024-01&level=village&countyId=${other.countyId}`)
          .set(s.admin.auth)
      ).status,
    ).to.equal(200);
    expect(
      (await http().get('/v1/rankings?period=2024-13&level=village').set(s.clerk.auth)).status,
    ).to.equal(400);
    expect(
      (await http().get('/v1/rankings?period=2024-01&level=county').set(s.clerk.auth)).status,
    ).to.equal(400);
  });

  it('runs as a repeatable job every 10 minutes', () => {
    const [job] = rankingJobs();
    expect([job!.queue, job!.everyMs]).to.deep.equal([RANKINGS_QUEUE, 600_000]);
  });
});

/**
 * The score sweeper reads entries from its last successful sweep on, however late it runs: a
 * sweep delayed past its look-back window (a starved worker on a busy machine, or workers down
 * for a day) still schedules a rescore for every household posted to since. It reads the cached
 * scores by `_id` alone, and rests nine times as long as its last read of the ledger took, so a
 * ledger that takes longer to read than the interval is not read back to back.
 */
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { filtersSent, notLoneId } from '../../support/filters';
import { signingKeysFor } from '../../../src/modules/credit/credit.keys';
import {
  creditJobs,
  markSwept,
  restingPacer,
  scheduleRescores,
  SCORE_SWEEP_QUEUE,
  SWEEP_REST_FACTOR,
  sweepLookbackMs,
  sweepSince,
} from '../../../src/modules/credit/credit.jobs';
import { award, makeCreditWorld, makeMember } from './helpers';

const EVERY_MS = 5_000;

function recordingQueue() {
  const added: string[] = [];
  return {
    added,
    add: (_name: string, data: { householdId: string }) => {
      added.push(data.householdId);
      return Promise.resolve(undefined as never);
    },
  };
}

describe('credit score sweeper: reads from its last successful sweep', () => {
  it('a sweep an hour late still schedules the household posted to just after the last sweep; the look-back window alone would miss it', async () => {
    const w = await makeCreditWorld();
    const m = await makeMember(w.villageId);
    await markSwept(new Date(Date.now() - 1_000));
    await award(m.id, 5);
    const anHourLater = Date.now() + 3_600_000;

    // The window alone, an hour later, starts after the posting.
    const windowOnly = recordingQueue();
    await scheduleRescores(windowOnly, new Date(anHourLater - sweepLookbackMs(EVERY_MS)));
    expect(windowOnly.added).not.to.include(m.id);

    // From the mark, it is scheduled.
    const since = await sweepSince(EVERY_MS, anHourLater);
    expect(since.getTime()).to.be.below(Date.now() - 1_000);
    const fromMark = recordingQueue();
    await scheduleRescores(fromMark, since);
    expect(fromMark.added).to.include(m.id);
  });

  it('a sweep on time reads at least its usual window (the mark only widens it, by at most a minute)', async () => {
    await markSwept(new Date());
    const now = Date.now();
    const since = (await sweepSince(EVERY_MS, now)).getTime();
    expect(since).to.be.at.most(now - sweepLookbackMs(EVERY_MS));
    expect(since).to.be.at.least(now - 60_000 - 1_000);
  });

  it('reads each household’s cached score by `_id` alone: the entries are the only collection it filters otherwise', async () => {
    const w = await makeCreditWorld();
    const [a, b] = [await makeMember(w.villageId), await makeMember(w.villageId)];
    const since = new Date(Date.now() - 1_000);
    await award(a.id, 5);
    await award(b.id, 3);
    const queue = recordingQueue();
    const sent = await filtersSent(() => scheduleRescores(queue, since));
    expect(queue.added).to.include.members([a.id, b.id]);
    expect([...new Set(notLoneId(sent).map((f) => f.split(' ')[0]))]).to.deep.equal([
      'ledger_entries',
    ]);
  });

  it('rests SWEEP_REST_FACTOR times as long as a run took, and runs again once rested', async () => {
    let t = 1_000;
    const pacer = restingPacer(() => t);
    expect(pacer.due()).to.equal(true);
    await pacer.run(async () => {
      t += 200; // a read of the ledger that took 200 ms
    });
    t += 200 * SWEEP_REST_FACTOR - 1;
    expect(pacer.due()).to.equal(false);
    t += 1;
    expect(pacer.due()).to.equal(true);
  });

  it('the sweep job does not read the ledger again while it rests; the exports check still runs', async () => {
    const def = creditJobs({
      redis: ctx().redis,
      redisPrefix: ctx().config.redisPrefix,
      keys: signingKeysFor(ctx().config),
      exportDir: ctx().config.credit.exportDir,
      settings: { gradeThresholds: [800, 650, 500, 350] },
      sweepEveryMs: 500,
    }).find((d) => d.queue === SCORE_SWEEP_QUEUE)!;
    const sweep = async () => {
      let report: unknown;
      const sent = await filtersSent(async () => {
        report = await def.process({}, { log: ctx().logger, attempt: 1 }, {} as never);
      });
      return { report: report as { rescores: number | string; levels?: string }, sent };
    };
    const reads = (sent: string[]) => sent.filter((f) => f.startsWith('ledger_entries '));
    const first = await sweep();
    expect(first.report.rescores).to.be.a('number');
    // The month's village levels (once a month) and the rescores: one read of the ledger each.
    expect(first.report).to.include({ levels: 'computed' });
    expect(reads(first.sent)).to.have.length(2);
    const second = await sweep();
    expect(second.report.rescores).to.equal('resting');
    expect(second.report).to.not.have.property('levels');
    expect(reads(second.sent)).to.deep.equal([]);
    expect(second.sent.some((f) => f.startsWith('credit_exports '))).to.equal(true);
    const deadline = Date.now() + 10_000;
    let later = second;
    while (later.report.rescores === 'resting' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      later = await sweep();
    }
    expect(later.report.rescores).to.be.a('number');
  });
});

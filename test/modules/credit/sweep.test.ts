/**
 * The score sweeper reads entries from its last successful sweep on, however late it runs: a
 * sweep delayed past its look-back window (a starved worker on a busy machine, or workers down
 * for a day) still schedules a rescore for every household posted to since.
 */
import { expect } from '../../support/expect';
import {
  markSwept,
  scheduleRescores,
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
});

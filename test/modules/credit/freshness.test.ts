/**
 * Freshness: real BullMQ workers (the sweeper and the debounced `score-<householdId>` jobs) keep
 * each household's current score cached shortly after postings, and every cached score equals
 * the recomputation from the chain as of its asOf. The default look-up serves the cache only
 * while it covers the whole chain.
 */
import { Redis } from 'ioredis';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { runWorkers, type RunningWorkers } from '../../../workers/runner';
import { findHousehold } from '../../../src/modules/households/households.service';
import { getAccount } from '../../../src/modules/ledger/ledger.service';
import { signingKeysFor } from '../../../src/modules/credit/credit.keys';
import { creditJobs } from '../../../src/modules/credit/credit.jobs';
import { ScoreCache, type ScoreCacheDoc } from '../../../src/modules/credit/credit.model';
import { MODELS } from '../../../src/modules/credit/credit.score';
import { scoreAsOf } from '../../../src/modules/credit/credit.service';
import { workerRedisOptions } from '../../../src/platform/redis';
import {
  award,
  consent,
  deduct,
  lookUp,
  makeCreditWorld,
  makeMember,
  redeem,
  sleep,
} from './helpers';

const settings = { gradeThresholds: [800, 650, 500, 350] as const };

/**
 * Waits until the household's cache covers its whole chain (eventual; no timing asserted). The
 * bound only stops a hung test: on a busy 2-CPU machine the scoring job can queue behind a
 * whole suite's work, so it is generous, and each test's own timeout allows for its waits.
 */
const COVER_WAIT_MS = 90_000;
async function cacheCoveringChain(
  householdId: string,
  timeoutMs = COVER_WAIT_MS,
): Promise<ScoreCacheDoc> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [cached, account] = await Promise.all([
      ScoreCache.findById(householdId).lean<ScoreCacheDoc>(),
      getAccount(householdId),
    ]);
    if (cached && cached.throughSeq === account.entryCount && account.entryCount > 0) return cached;
    if (Date.now() > deadline)
      throw new Error(
        `cache of ${householdId} never covered seq ${account.entryCount} (has ${cached?.throughSeq ?? 'none'})`,
      );
    await sleep(200);
  }
}

async function expectCacheEqualsRecomputation(c: ScoreCacheDoc) {
  const household = await findHousehold(c._id);
  const { view, throughSeq } = await scoreAsOf(
    household!,
    c.asOf,
    MODELS[c.modelVersion]!,
    settings,
  );
  expect({
    score: c.score,
    grade: c.grade,
    reasons: c.reasons,
    asOf: c.asOf.toISOString(),
    modelVersion: c.modelVersion,
    throughSeq: c.throughSeq,
  }).to.deep.equal({
    score: view.score,
    grade: view.grade,
    reasons: view.reasons,
    asOf: view.asOf,
    modelVersion: view.modelVersion,
    throughSeq,
  });
}

describe('credit scoring worker (freshness)', function () {
  // Two waits for the cache per test at most (the burst test waits for five, mostly in parallel).
  this.timeout(30_000 + 2 * COVER_WAIT_MS);
  let workers: RunningWorkers;
  let redis: Redis;

  before(async () => {
    redis = new Redis(ctx().redisUrl, workerRedisOptions());
    workers = await runWorkers(
      creditJobs({
        redis,
        redisPrefix: ctx().config.redisPrefix,
        keys: signingKeysFor(ctx().config),
        exportDir: ctx().config.credit.exportDir,
        settings,
        sweepEveryMs: 500,
      }),
      { redisUrl: ctx().redisUrl, redisPrefix: ctx().config.redisPrefix, logger: ctx().logger },
    );
  });
  after(async () => {
    await workers.close();
    redis.disconnect();
  });

  it('caches a household’s score shortly after postings, equal to the recomputation as of the cached asOf', async () => {
    const w = await makeCreditWorld();
    const m = await makeMember(w.villageId);
    await award(m.id, 20, 'best-family');
    await award(m.id, 5);
    const first = await cacheCoveringChain(m.id);
    await expectCacheEqualsRecomputation(first);
    await deduct(m.id, 15);
    await redeem(m.id, 5);
    const second = await cacheCoveringChain(m.id);
    expect(second.asOf.getTime()).to.be.greaterThan(first.asOf.getTime());
    expect(second.score).to.be.lessThan(first.score);
    await expectCacheEqualsRecomputation(second);
  });

  it('a burst of postings on several households ends with every cache covering its chain and equal to recomputation', async () => {
    const w = await makeCreditWorld();
    const members = await Promise.all(Array.from({ length: 5 }, () => makeMember(w.villageId)));
    await Promise.all(
      members.flatMap((m, i) =>
        Array.from({ length: 8 }, (_, k) =>
          k % 4 === 3
            ? deduct(m.id, 2 + i)
            : award(m.id, 3 + k, k % 2 ? 'volunteer-hour' : 'environment'),
        ),
      ),
    );
    for (const m of members) await expectCacheEqualsRecomputation(await cacheCoveringChain(m.id));
  });

  it('the default look-up answers from the cache while it covers the chain, with the cached asOf', async () => {
    const w = await makeCreditWorld();
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId);
    await award(m.id, 12);
    const cached = await cacheCoveringChain(m.id);
    const res = await lookUp(w.officer, m.id);
    expect(res.status).to.equal(200);
    expect(res.body).to.deep.equal({
      householdId: m.id,
      score: cached.score,
      grade: cached.grade,
      reasons: cached.reasons,
      asOf: cached.asOf.toISOString(),
      modelVersion: cached.modelVersion,
    });
    // Asking for that asOf explicitly recomputes from the chain and gives the same answer.
    const explicit = await lookUp(w.officer, m.id, {
      purpose: '核对',
      asOf: cached.asOf.toISOString(),
    });
    expect(explicit.body).to.deep.equal(res.body);
    const own = await http().get(`/v1/credit/households/${m.id}`).set(m.login.auth);
    expect(own.body).to.deep.equal(res.body);
  });
});

/**
 * What must survive: a workers process killed mid-way, Redis losing every job, and a request
 * or job dying between two of its steps. In each case every due submission posts exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import mongoose from 'mongoose';
import { expect } from '../../support/expect';
import { ctx, deleteRedisKeys } from '../../support/context';
import { makeHousehold } from '../../support/factories';
import { bullPrefix } from '../../../src/platform/queues';
import { Entry } from '../../../src/modules/ledger/ledger.model';
import { verifyChain } from '../../../src/modules/ledger/ledger.service';
import { CapClaim } from '../../../src/modules/rules/rules.model';
import {
  NOTICE_QUEUE,
  SWEEP_QUEUE,
  enqueueNoticeWith,
  noticeId,
} from '../../../src/modules/submissions/submissions.jobs';
import { Submission, Wakeup } from '../../../src/modules/submissions/submissions.model';
import {
  GUARD_MS,
  castVote,
  endNotice,
  fileSubmission,
  sweepDue,
} from '../../../src/modules/submissions/submissions.service';
import { Notification } from '../../../src/modules/notifications/notifications.model';
import type { RunningWorkers } from '../../../workers/runner';
import {
  entriesOf,
  eventually,
  file,
  fileVia,
  getSub,
  makeCouncilScene,
  principals,
  resetClock,
  shiftClock,
  startCouncilWorkers,
  today,
  voteVia,
  type CouncilScene,
} from './scene';
import { councilFaults } from '../../../src/platform/faults';

/**
 * Deletes every key matching ARGV[1] and returns [keys left, keys deleted], atomically: Redis runs
 * a script to its end before any other command, so no worker can write in between.
 */
const LOSE_EVERY_KEY = `
local deleted = {}
local cursor = '0'
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    redis.call('DEL', key)
    table.insert(deleted, key)
  end
until cursor == '0'
return { #redis.call('KEYS', ARGV[1]), deleted }
`;

/** Files and approves `n` one-point awards spread over `households`, through the services. */
async function manyInNotice(
  s: CouncilScene,
  households: string[],
  n: number,
  concurrency = 8,
): Promise<string[]> {
  const { clerk, council } = principals(s);
  const deps = { enqueuePost: enqueueNoticeWith(ctx().queues) };
  const ids: string[] = [];
  for (let i = 0; i < n; i += concurrency) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(concurrency, n - i) }, async (_, j) => {
        const sub = await fileSubmission(
          clerk,
          {
            villageId: s.villageId,
            householdId: households[(i + j) % households.length]!,
            ruleCode: s.rule.code,
            occurredOn: today(),
            evidence: { text: '批量测试' },
          },
          deps,
        );
        const t = Date.now();
        const voted = await castVote(council, sub.id, { decision: 'approve' }, deps);
        expect(voted.status, `vote took ${Date.now() - t} ms`).to.equal('in_notice');
        return sub.id;
      }),
    );
    ids.push(...batch);
  }
  return ids;
}

/** Entries per submission id (sourceType submission). */
async function entryCounts(ids: string[]): Promise<Map<string, number>> {
  const counts = new Map(ids.map((id) => [id, 0]));
  const docs = await Entry.find({ sourceType: 'submission', sourceId: { $in: ids } })
    .select({ sourceId: 1 })
    .lean<{ sourceId: string }[]>();
  for (const d of docs) counts.set(d.sourceId, (counts.get(d.sourceId) ?? 0) + 1);
  return counts;
}

async function allPostedOnce(ids: string[]): Promise<boolean> {
  const counts = await entryCounts(ids);
  if ([...counts.values()].some((c) => c !== 1)) return false;
  const posted = await Submission.countDocuments({ _id: { $in: ids }, status: 'posted' });
  const wakeups = await Wakeup.countDocuments({ submissionId: { $in: ids } });
  return posted === ids.length && wakeups === 0;
}

/** The kill test's own database and Redis prefix, so its thousand submissions stay out of the suite's way. */
function isolated() {
  const c = ctx();
  return { db: `${c.config.mongodbDb}_kill`, prefix: `${c.config.redisPrefix}-kill` };
}

function spawnScenario(
  mode: 'setup' | 'workers' | 'verify',
  extra: Record<string, string> = {},
): ChildProcess {
  const c = ctx();
  const iso = isolated();
  return spawn(
    process.execPath,
    ['--require', 'tsx/cjs', path.join(__dirname, 'scenario.child.ts')],
    {
      env: {
        ...process.env,
        MSL_CHILD_MODE: mode,
        MSL_CHILD_URI: c.mongoUri,
        MSL_CHILD_DB: iso.db,
        MSL_CHILD_REDIS_URL: c.redisUrl,
        MSL_CHILD_REDIS_PREFIX: iso.prefix,
        ...extra,
      },
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
}

/** Runs a scenario child to its end and returns the JSON line it printed. */
function runScenario<T>(mode: 'setup' | 'verify', extra: Record<string, string> = {}): Promise<T> {
  const child = spawnScenario(mode, extra);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) =>
      code === 0
        ? resolve(JSON.parse(out.trim().split('\n').pop()!))
        : reject(new Error(`${mode} child exited ${code}`)),
    );
  });
}

function startWorkersChild(): Promise<ChildProcess> {
  const child = spawnScenario('workers', { MSL_CHILD_NOTIFY: '0' });
  return new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.trim() === 'READY') resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`workers child exited ${code} before READY`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve()
      : child.once('exit', () => resolve()),
  );
}

describe('durability of the council workflow', () => {
  let workers: RunningWorkers | undefined;
  afterEach(async () => {
    resetClock();
    for (const k of Object.keys(councilFaults))
      delete (councilFaults as Record<string, unknown>)[k];
    await workers?.close();
    workers = undefined;
  });

  /**
   * Several hard kills of a smaller batch prove more than one kill of a big one: each restarted
   * process must take over what the killed one held (claimed wake-ups, half-run jobs) and post
   * the rest exactly once. 150 submissions and two kills (at about 20% and 55% posted) take a
   * fraction of the time 1,000 and one kill took on FerretDB's SQLite backend, where every write
   * waits for the one writer. MSL_KILL_TEST_COUNT and MSL_KILL_TEST_KILLS set them.
   */
  const KILL_COUNT = Number(process.env.MSL_KILL_TEST_COUNT ?? 150);
  const KILLS = Number(process.env.MSL_KILL_TEST_KILLS ?? 2);
  it(`posts each of ${KILL_COUNT} due submissions exactly once when the workers process is killed ${KILLS} times and restarted`, async function () {
    this.timeout(1_800_000);
    const iso = isolated();
    const conn = await mongoose.createConnection(ctx().mongoUri, { dbName: iso.db }).asPromise();
    const children: ChildProcess[] = [];
    try {
      const t0 = Date.now();
      const { ids, households } = await runScenario<{ ids: string[]; households: string[] }>(
        'setup',
        {
          MSL_CHILD_COUNT: String(KILL_COUNT),
          MSL_CHILD_NOTICE: 'PT5S',
          MSL_CHILD_HOUSEHOLDS: '20',
        },
      );
      const filedMs = Date.now() - t0;
      expect(ids).to.have.length(KILL_COUNT);
      const entries = conn.collection('ledger_entries');
      const submissions = conn.collection('submissions');
      const postedCount = () => entries.countDocuments({ sourceType: 'submission' });
      // Every notice has ended before the first workers process starts: all of them are due.
      await eventually(
        async () =>
          (
            await submissions.find({}).sort({ noticeEndsAt: -1 }).limit(1).toArray()
          )[0]!.noticeEndsAt.getTime() < Date.now(),
        'every notice ended',
      );

      // Kill k (0-based) comes once 20% + 70%·k/KILLS of the batch is posted (20% and 55% for
      // two kills); the work left at each kill is taken over by the next process.
      const kills: string[] = [];
      for (let k = 0; k < KILLS; k++) {
        const doomed = await startWorkersChild();
        children.push(doomed);
        const started = Date.now();
        const threshold = Math.min(Math.ceil(KILL_COUNT * (0.2 + (0.7 * k) / KILLS)), KILL_COUNT);
        const atKill = await eventually(
          async () => {
            const n = await postedCount();
            return n >= threshold ? n : undefined;
          },
          `${threshold} posted before kill ${k + 1}`,
          300_000,
          20,
        );
        doomed.kill('SIGKILL');
        await exited(doomed);
        const afterKill = await postedCount();
        // The first kill lands with most of the batch still to post, or it proves nothing.
        if (k === 0) expect(afterKill, 'posted when first killed').to.be.below(KILL_COUNT);
        kills.push(`SIGKILL after ${Date.now() - started} ms with ${atKill}–${afterKill} posted`);
      }

      const last = await startWorkersChild();
      children.push(last);
      const restarted = Date.now();
      await eventually(
        async () =>
          (await postedCount()) >= KILL_COUNT &&
          (await submissions.countDocuments({ status: 'posted' })) === KILL_COUNT &&
          (await conn.collection('submission_wakeups').countDocuments({})) === 0,
        'all posted',
        1_200_000,
        200,
      );
      const recoveryMs = Date.now() - restarted;
      last.kill('SIGTERM');
      await exited(last);

      // Exactly one entry per submission, and nothing else in the ledger.
      const bySource = new Map<string, number>();
      for (const e of await entries
        .find({}, { projection: { sourceId: 1, sourceType: 1 } })
        .toArray()) {
        expect(e.sourceType).to.equal('submission');
        bySource.set(e.sourceId as string, (bySource.get(e.sourceId as string) ?? 0) + 1);
      }
      expect(bySource.size).to.equal(KILL_COUNT);
      expect(ids.every((id) => bySource.get(id) === 1)).to.equal(true);
      const { chains } = await runScenario<{ chains: Record<string, string | null> }>('verify', {
        MSL_CHILD_HOUSEHOLDS_JSON: JSON.stringify(households),
      });
      expect(
        Object.values(chains).every((p) => p === null),
        JSON.stringify(chains),
      ).to.equal(true);
      expect(await conn.collection('notifications').countDocuments({ kind: 'posted' })).to.equal(
        KILL_COUNT,
      );
      process.stdout.write(
        `      (filed+approved ${KILL_COUNT} in ${filedMs} ms; ${kills.join('; ')}; the last process posted the rest in ${recoveryMs} ms)\n`,
      );
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await conn.dropDatabase().catch(() => undefined);
      await conn.close();
      await deleteRedisKeys(ctx().redis, iso.prefix).catch(() => undefined);
    }
  });

  it('posts each of 100 submissions in notice exactly once after Redis lost every job, once the sweeper runs', async function () {
    this.timeout(300_000);
    const s = await makeCouncilScene({
      quorum: 1,
      councilSize: 2,
      // Long enough that all 100 are still in notice at the flush however slow the filing; the
      // clock is then moved past it, so the sweeper finds every wake-up due at once.
      noticePeriod: 'PT10M',
      rule: { points: 2 },
    });
    const households = [s.households[1]!.id, s.households[2]!.id];
    for (let i = 0; i < 8; i++) households.push((await makeHousehold(s.villageId)).id);
    // The workers run throughout, so the flush also takes their sweeper schedules away.
    workers = await startCouncilWorkers({ sweepEveryMs: 500, scheduleRefreshMs: 500 });
    const ids = await manyInNotice(s, households, 100);
    const queue = ctx().queues.get(NOTICE_QUEUE);
    const inNotice = await Submission.countDocuments({ _id: { $in: ids }, status: 'in_notice' });
    expect(await queue.getJobState(noticeId(ids[ids.length - 1]!, 1))).to.equal('delayed');

    // Only this run's queue keys: never FLUSHDB on a Redis others may share. The workers keep
    // running and re-create their sweeper schedules every 500 ms, so "Redis lost every job" is
    // made and checked in one atomic step (a Lua script: nothing else runs on Redis meanwhile):
    // delete every key of this run's queues, then count what is left.
    const bull = bullPrefix(ctx().config.redisPrefix);
    const [left, deleted] = (await ctx().redis.eval(LOSE_EVERY_KEY, 0, `${bull}:*`)) as [
      number,
      string[],
    ];
    expect(left, 'keys of the queues left at the instant of the loss').to.equal(0);
    const lastJob = noticeId(ids[ids.length - 1]!, 1);
    expect(deleted, 'the delayed notice jobs were lost').to.include(
      `${bull}:${NOTICE_QUEUE}:${lastJob}`,
    );
    expect(
      deleted.some((k) => k.startsWith(`${bull}:${SWEEP_QUEUE}:repeat`)),
      `the sweeper's schedule was lost: ${deleted.filter((k) => k.includes(SWEEP_QUEUE)).join(', ')}`,
    ).to.equal(true);
    // Nothing re-creates a notice job: only the sweeper's durable wake-ups can post them now.
    expect(await queue.getJobState(lastJob)).to.equal('unknown');

    shiftClock(10 * 60_000 + 1000);
    const flushedAt = Date.now();
    await eventually(() => allPostedOnce(ids), 'all 100 posted after the flush', 120_000, 100);
    process.stdout.write(
      `      (${inNotice} of 100 were in notice at the flush; all 100 posted ${Date.now() - flushedAt} ms after it)\n`,
    );
    for (const h of households) expect(await verifyChain(h)).to.equal(undefined);
  });

  it('finishes a vote whose request died after recording the vote (quorum reached, no decision)', async () => {
    const s = await makeCouncilScene({ quorum: 1, noticePeriod: 'PT0S' });
    const sub = await file(s);
    councilFaults.afterVote = () => {
      throw new Error('injected crash after the vote');
    };
    const res = await voteVia(sub.id, s.council[1]!);
    expect(res.status).to.equal(500);
    delete councilFaults.afterVote;
    expect((await Submission.findById(sub.id).lean())!.status).to.equal('in_review');
    expect(await Wakeup.countDocuments({ submissionId: sub.id, kind: 'guard' })).to.equal(1);
    // Nothing happens before the guard is due: the request might still be running.
    await sweepDue();
    expect(await entriesOf(sub.id)).to.have.length(0);
    shiftClock(GUARD_MS + 1000);
    await sweepDue();
    expect(await entriesOf(sub.id)).to.have.length(1);
    expect((await Submission.findById(sub.id).lean())!.status).to.equal('posted');
    expect(await Wakeup.countDocuments({ submissionId: sub.id })).to.equal(0);
    // The member who retries the vote learns it counted.
    expect((await voteVia(sub.id, s.council[1]!)).status).to.equal(409);
  });

  it('ends a notice whose decision was recorded but never queued (the request died right after)', async () => {
    const s = await makeCouncilScene({ quorum: 1, noticePeriod: 'PT10S' });
    const sub = await file(s);
    councilFaults.afterDecision = () => {
      throw new Error('injected crash after the decision');
    };
    expect((await voteVia(sub.id, s.council[1]!)).status).to.equal(500);
    delete councilFaults.afterDecision;
    expect(await ctx().queues.get(NOTICE_QUEUE).getJobState(noticeId(sub.id, 1))).to.equal(
      'unknown',
    );
    shiftClock(GUARD_MS + 1000);
    await sweepDue();
    expect(await entriesOf(sub.id)).to.have.length(1);
    expect((await getSub(s, sub.id)).status).to.equal('posted');
  });

  it('finishes a posting whose job died after the ledger entry and before recording it, without a second entry or notice', async () => {
    const s = await makeCouncilScene({ quorum: 1, noticePeriod: 'PT1H' });
    const sub = await file(s);
    await voteVia(sub.id, s.council[1]!);
    shiftClock(3600_000 + 1000);
    councilFaults.afterPostEntries = () => {
      throw new Error('injected crash after posting');
    };
    const err = await endNotice(sub.id, 1).catch((e: Error) => e);
    expect(err).to.be.instanceOf(Error);
    delete councilFaults.afterPostEntries;
    expect(await entriesOf(sub.id)).to.have.length(1);
    expect((await Submission.findById(sub.id).lean())!.status).to.equal('in_notice');
    // A retry of the job and the sweeper, at once.
    await Promise.all([endNotice(sub.id, 1), sweepDue(), sweepDue()]);
    expect(await entriesOf(sub.id)).to.have.length(1);
    expect(await Notification.countDocuments({ submissionId: sub.id, kind: 'posted' })).to.equal(1);
    expect((await getSub(s, sub.id)).status).to.equal('posted');
    expect(await Wakeup.countDocuments({ submissionId: sub.id })).to.equal(0);
  });

  it('gives back the cap claims of a filing that died before the submission was stored', async () => {
    const s = await makeCouncilScene({
      occurredOnWindowDays: 3660,
      rule: { points: 10, capPerMonth: 10 },
    });
    councilFaults.afterCapClaims = () => {
      throw new Error('injected crash after claiming caps');
    };
    expect((await fileVia(s, { occurredOn: '2026-03-03' })).status).to.equal(500);
    delete councilFaults.afterCapClaims;
    expect((await fileVia(s, { occurredOn: '2026-03-04' })).body.code).to.equal('cap_reached');
    shiftClock(GUARD_MS + 1000);
    await sweepDue();
    resetClock();
    expect((await file(s, { occurredOn: '2026-03-04' })).points).to.equal(10);
    expect(await CapClaim.countDocuments({ key: { $regex: `^${s.households[1]!.id}` } })).to.equal(
      3,
    );
  });
});

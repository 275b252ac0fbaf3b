import { randomBytes } from 'node:crypto';
import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import { http, makeAdmin, makeUser, makeVillage } from '../../support/factories';
import { DomainError } from '../../../src/platform/errors';
import type { JobDefinition } from '../../../src/platform/queues';
import { forgetQueueList } from '../../../src/modules/jobs/jobs.service';
import { runWorkers, type RunningWorkers } from '../../../workers/runner';
import { eventually } from '../submissions/scene';

const queueName = () => `test-${randomBytes(4).toString('hex')}`;
const start = (defs: JobDefinition[]) =>
  runWorkers(defs as JobDefinition<unknown>[], {
    redisUrl: ctx().redisUrl,
    redisPrefix: ctx().config.redisPrefix,
    logger: ctx().logger,
  });

describe('background jobs: failures, metrics and shutdown', () => {
  let workers: RunningWorkers | undefined;
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
  });

  it('lists jobs that exhausted their retries (or were refused by a rule) for an admin, and retries one by hand', async () => {
    const q = queueName();
    let healthy = false;
    workers = await start([
      {
        queue: q,
        async process(data) {
          const d = data as { kind: string };
          if (d.kind === 'rule') throw new DomainError('job_not_failed', 'refused by a rule');
          if (!healthy) throw new Error('database unreachable');
          return 'ok';
        },
      },
    ]);
    await ctx().queues.add(q, 'job-rule', { kind: 'rule' });
    await ctx().queues.add(
      q,
      'job-flaky',
      { kind: 'flaky' },
      { attempts: 2, backoff: { type: 'fixed', delay: 10 } },
    );
    const queue = ctx().queues.get(q);
    await eventually(async () => (await queue.getJobCounts('failed')).failed === 2, 'both failed');
    const admin = await makeAdmin();
    forgetQueueList();
    const all = await http().get('/v1/admin/failed-jobs?limit=500').set(admin.auth);
    expect(all.status).to.equal(200);
    const mine = all.body.items.filter((j: { queue: string }) => j.queue === q);
    expect(mine.map((j: { id: string }) => j.id).sort()).to.deep.equal(['job-flaky', 'job-rule']);
    expect(mine.find((j: { id: string }) => j.id === 'job-rule')).to.include({
      attemptsMade: 1,
      failedReason: 'conflict: refused by a rule',
    });
    expect(mine.find((j: { id: string }) => j.id === 'job-flaky')).to.include({
      attemptsMade: 2,
      failedReason: 'database unreachable',
    });
    const filtered = await http().get(`/v1/admin/failed-jobs?queue=${q}`).set(admin.auth);
    expect(filtered.body.items).to.have.length(2);

    healthy = true;
    const retried = await http().post(`/v1/admin/failed-jobs/${q}/job-flaky/retry`).set(admin.auth);
    expect(retried.status, JSON.stringify(retried.body)).to.equal(200);
    await eventually(
      async () => (await queue.getJobState('job-flaky')) === 'completed',
      'retried job completed',
    );
    expect(
      (await http().post(`/v1/admin/failed-jobs/${q}/job-flaky/retry`).set(admin.auth)).status,
    ).to.equal(409);
    expect(
      (await http().post(`/v1/admin/failed-jobs/${q}/no-such-job/retry`).set(admin.auth)).status,
    ).to.equal(404);

    const clerk = await makeUser('clerk', { villageId: (await makeVillage()).id });
    expect((await http().get('/v1/admin/failed-jobs').set(clerk.auth)).status).to.equal(403);
    expect((await http().get('/v1/admin/failed-jobs?queue=a:b').set(admin.auth)).status).to.equal(
      400,
    );
  });

  it('reports queue depth and failures, overdue wake-ups and the outbox in /metrics', async () => {
    const q = queueName();
    await ctx().queues.add(q, 'waiting-1', { n: 1 });
    await ctx().queues.add(q, 'delayed-1', { n: 2 }, { delay: 3600_000 });
    forgetQueueList();
    const res = await http().get('/metrics');
    expect(res.status).to.equal(200);
    expect(res.text).to.contain(`bullmq_jobs{queue="${q}",state="waiting"} 1`);
    expect(res.text).to.contain(`bullmq_jobs{queue="${q}",state="delayed"} 1`);
    expect(res.text).to.contain(`bullmq_jobs{queue="${q}",state="failed"} 0`);
    expect(res.text).to.match(/submission_wakeups_overdue \d+/);
    expect(res.text).to.match(/notifications_outbox\{state="pending"\} \d+/);
    expect(res.text).to.contain('background_metrics_up 1');
    await ctx().queues.get(q).obliterate({ force: true });
  });

  it('shuts down gracefully: the running job finishes, no new one is taken', async () => {
    const q = queueName();
    const done: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let began = 0;
    workers = await start([
      {
        queue: q,
        concurrency: 1,
        async process(data) {
          began++;
          await gate;
          done.push((data as { n: string }).n);
        },
      },
    ]);
    await ctx().queues.add(q, 'first', { n: 'first' });
    await ctx().queues.add(q, 'second', { n: 'second' });
    await eventually(async () => began === 1, 'first job running');
    const closing = workers.close();
    workers = undefined;
    setTimeout(release, 200);
    await closing;
    expect(done).to.deep.equal(['first']);
    expect(await ctx().queues.get(q).getJobState('first')).to.equal('completed');
    expect(await ctx().queues.get(q).getJobState('second')).to.equal('waiting');
    await ctx().queues.get(q).obliterate({ force: true });
  });
});

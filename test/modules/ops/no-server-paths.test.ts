/**
 * No error shows a server path. An export that fails for good on a file system error (the
 * Docker image's EACCES on '/app/data/exports') tells the officer that it failed and its export
 * id, not where the server keeps its files; the admin's failed-jobs view drops paths too.
 */
import type { Job } from 'bullmq';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import { makeCreditWorld } from '../credit/helpers';
import { EXPORT_QUEUE } from '../../../src/modules/credit/credit.exports';
import { creditJobs } from '../../../src/modules/credit/credit.jobs';
import { signingKeysFor } from '../../../src/modules/credit/credit.keys';
import { JOB_ATTEMPTS } from '../../../src/platform/queues';
import { withoutPaths } from '../../../src/platform/errors';

describe('no error shows a server path', () => {
  it('an export whose folder cannot be created fails, on its last attempt, with a generic reason naming the export, not the path', async () => {
    const world = await makeCreditWorld();
    const created = await http()
      .post('/v1/credit/exports')
      .set(world.officer.auth)
      .send({ villageIds: [world.villageId] });
    expect(created.status).to.equal(202);
    const exportId = created.body.id as string;
    // A folder under a regular file cannot be created, as root or not (ENOTDIR names the path).
    const exportDir = '/etc/hostname/exports';
    const def = creditJobs({
      redis: ctx().redis,
      redisPrefix: ctx().config.redisPrefix,
      keys: signingKeysFor(ctx().config),
      exportDir,
      settings: { gradeThresholds: ctx().config.credit.gradeThresholds },
      sweepEveryMs: 5000,
    }).find((d) => d.queue === EXPORT_QUEUE)!;
    const job = {
      opts: { attempts: JOB_ATTEMPTS },
      updateProgress: async () => undefined,
    } as unknown as Job;
    const err = await def
      .process({ exportId }, { log: ctx().logger, attempt: JOB_ATTEMPTS }, job)
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(
      err?.message,
      'the job itself fails with the real error (logged, retried by BullMQ)',
    ).to.contain('/etc/hostname');

    const status = await http().get(`/v1/credit/exports/${exportId}`).set(world.officer.auth);
    expect(status.body.status).to.equal('failed');
    expect(status.body.error).to.contain(exportId);
    expect(status.body.error).to.not.match(/\/etc|hostname|ENOTDIR|EACCES/);
    expect(status.body.error).to.not.match(/(^|[\s'"])\//);
  });

  it('withoutPaths › drops absolute paths from a message and keeps the rest', () => {
    expect(withoutPaths("EACCES: permission denied, mkdir '/app/data/exports'")).to.equal(
      "EACCES: permission denied, mkdir '…'",
    );
    expect(withoutPaths('ENOENT: no such file or directory, open /tmp/x/y.csv')).to.equal(
      'ENOENT: no such file or directory, open …',
    );
    expect(withoutPaths('a/b ratio 3/4 ok')).to.equal('a/b ratio 3/4 ok');
    expect(withoutPaths('validation_failed: bad payload')).to.equal(
      'validation_failed: bad payload',
    );
  });
});

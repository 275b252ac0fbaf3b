import { expect } from '../../support/expect';
import { ctx } from '../../support/context';
import { allJobs } from '../../../workers/registry';
import {
  REDEMPTION_RECOVERY_QUEUE,
  RECOVERY_EVERY_MS,
  redemptionRecoveryJob,
} from '../../../src/modules/redemption/redemption.jobs';

describe('redemption recovery job', () => {
  it('is registered with the workers as a sweeper on its own queue', () => {
    const def = allJobs({ redis: ctx().redis, redisPrefix: ctx().config.redisPrefix }).find(
      (d) => d.queue === REDEMPTION_RECOVERY_QUEUE,
    );
    expect(def, 'registered in workers/registry.ts').to.not.equal(undefined);
    expect(def!.everyMs).to.equal(RECOVERY_EVERY_MS);
  });

  it('a sweep runs against the database and reports what it did', async () => {
    const report = await redemptionRecoveryJob().process(
      {},
      { log: ctx().logger, attempt: 1 },
      undefined as never,
    );
    expect(report).to.include({ errors: 0 });
  });
});

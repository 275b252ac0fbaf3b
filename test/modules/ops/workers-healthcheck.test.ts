/**
 * workers/healthcheck.ts, the liveness command of a workers container: exit 0 while the workers'
 * heartbeat is fresh, 1 when it is stale or missing, 2 when Redis cannot be read.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { heartbeatKey, recordHeartbeat } from '../../../src/modules/jobs/heartbeat';

const ROOT = path.resolve(__dirname, '..', '..', '..');

function healthcheck(env: Record<string, string> = {}) {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'workers', 'healthcheck.ts')],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: {
        ...process.env,
        REDIS_URL: ctx().redisUrl,
        REDIS_PREFIX: `${ctx().config.redisPrefix}-hc`,
        WORKERS_HEARTBEAT_STALE_S: '60',
        ...env,
      },
    },
  );
  return { code: r.status, out: JSON.parse(r.stdout.trim()) as Record<string, unknown> };
}

describe('workers/healthcheck (liveness of a workers container)', function () {
  this.timeout(60_000);
  const prefix = () => `${ctx().config.redisPrefix}-hc`;
  after(async () => ctx().redis.del(heartbeatKey(prefix())));

  it('exit 0 with a fresh heartbeat, 1 with a stale or missing one, 2 when Redis does not answer', async () => {
    await recordHeartbeat(ctx().redis, prefix());
    const fresh = healthcheck();
    expect(fresh.code).to.equal(0);
    expect(fresh.out.state).to.equal('ok');

    await recordHeartbeat(ctx().redis, prefix(), new Date(Date.now() - 120_000));
    const stale = healthcheck();
    expect(stale.code).to.equal(1);
    expect(stale.out.state).to.equal('stale');

    await ctx().redis.del(heartbeatKey(prefix()));
    expect(healthcheck().code).to.equal(1);

    expect(healthcheck({ REDIS_URL: 'redis://127.0.0.1:1' }).code).to.equal(2);
  });
});

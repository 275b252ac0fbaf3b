/**
 * The CLI tells the running services when configuration they cache changed
 * (src/cli/config-epoch.ts): `config-changed` after a hand edit in the database, and every
 * command that writes configuration when it ends. Without it a hand edit would be served from the
 * services' caches for their whole lifetime (CONFIG_CACHE_TTL_MS, 60 s).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import mongoose from 'mongoose';
import { configEpochKey } from '../../../src/platform/config-cache';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http, makeUser, makeVillage } from '../../support/factories';
import { redisRunFilePath } from '../../../src/cli/config-epoch';
import { runCliProcess } from './cli-process';
import { tempDir } from '../../support/temp';

const epoch = async () => Number(await ctx().redis.get(configEpochKey(ctx().config.redisPrefix)));

describe('CLI: running services are told when configuration changes', function () {
  this.timeout(60_000);

  it('a clerk disabled by hand in the database keeps working from the cache until `config-changed`, then is refused at once', async () => {
    const village = await makeVillage();
    const clerk = await makeUser('clerk', { villageId: village.id });
    const url = `/v1/villages/${village.id}`;
    expect((await http().get(url).set(clerk.auth)).status).to.equal(200);
    await mongoose.connection
      .db!.collection('users')
      .updateOne({ _id: new mongoose.Types.ObjectId(clerk.user.id) }, { $set: { disabled: true } });
    // Cached: a write around the models is not seen until told (or the lifetime runs out).
    expect((await http().get(url).set(clerk.auth)).status).to.equal(200);
    const run = await runCliProcess(['config-changed']);
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stdout).to.contain('Configuration epoch raised');
    expect((await http().get(url).set(clerk.auth)).status).to.equal(401);
  });

  it('a command that writes configuration raises the epoch when it ends; a read-only one does not', async () => {
    const before = await epoch();
    const made = await runCliProcess([
      'create-admin',
      '--username',
      `cli-epoch-${Date.now().toString(36)}`,
      '--password',
      'correct horse battery',
    ]);
    expect(made.code, made.stderr).to.equal(0);
    const after = await epoch();
    expect(after).to.be.greaterThan(before);
    const checked = await runCliProcess(['verify-chain']);
    expect(checked.code, checked.stderr).to.equal(0);
    expect(await epoch()).to.equal(after);
  });

  it('with no Redis answering at REDIS_URL, `config-changed` exits 1 and says what running services will see', async () => {
    const run = await runCliProcess(['config-changed'], { redisUrl: 'redis://127.0.0.1:1' });
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('did not answer');
    expect(run.stderr).to.contain('CONFIG_CACHE_TTL_MS');
  });

  it('without REDIS_URL, it tells the Redis the running service wrote to DATA_DIR/run/redis.url', async () => {
    // The same server, another database number: where the raised epoch lands shows which was used.
    const other = `${ctx().redisUrl.replace(/\/\d*$/, '')}/7`;
    const dataDir = tempDir('cli');
    mkdirSync(path.dirname(redisRunFilePath(dataDir)), { recursive: true });
    writeFileSync(redisRunFilePath(dataDir), `${other}\n`);
    const key = configEpochKey(ctx().config.redisPrefix);
    const db7 = new Redis(other);
    try {
      const before = await epoch();
      const run = await runCliProcess(['config-changed'], { redisUrl: null, dataDir });
      expect(run.code, run.stderr).to.equal(0);
      expect(Number(await db7.get(key))).to.be.greaterThan(0);
      expect(await epoch()).to.equal(before);
    } finally {
      await db7.del(key);
      db7.disconnect();
    }
  });
});

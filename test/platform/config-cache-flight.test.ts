/**
 * Concurrent misses of one configuration document share one database read (the redemption
 * bench at 32 terminals read users, terminals and cards about twice as often as it met new
 * ones), and a change in between still forces a fresh read.
 */
import { expect } from '../support/expect';
import { ctx } from '../support/context';
import { ConfigCache, configChanged, configEpochKey } from '../../src/platform/config-cache';

describe('config cache: concurrent misses share one read', function () {
  let loads = 0;
  let release: () => void = () => undefined;
  const slowLoad = (value: { name: string; tags: string[] }) => async () => {
    loads++;
    await new Promise<void>((resolve) => (release = resolve));
    return value;
  };

  beforeEach(async () => {
    loads = 0;
    // The cache is on only while the API's Redis connection is up (it connects on first use).
    await ctx().redis.ping();
  });

  it('32 concurrent gets of one id read once, and each caller gets its own copy', async () => {
    const cache = new ConfigCache<{ name: string; tags: string[] }>('flight-a');
    const load = slowLoad({ name: '红星村', tags: ['a'] });
    const all = Promise.all(Array.from({ length: 32 }, () => cache.get('v1', load)));
    await new Promise((r) => setTimeout(r, 50));
    release();
    const values = await all;
    expect(loads).to.equal(1);
    values[0]!.tags.push('changed by one caller');
    expect(values[1]!.tags).to.deep.equal(['a']);
    expect((await cache.get('v1', load))!.tags).to.deep.equal(['a']);
    expect(loads).to.equal(1);
  });

  it('different ids are read separately', async () => {
    const cache = new ConfigCache<{ name: string; tags: string[] }>('flight-b');
    const a = cache.get('a', async () => (loads++, { name: 'a', tags: [] }));
    const b = cache.get('b', async () => (loads++, { name: 'b', tags: [] }));
    expect((await a)!.name).to.equal('a');
    expect((await b)!.name).to.equal('b');
    expect(loads).to.equal(2);
  });

  it('a get after a change does not join a read begun before it', async () => {
    const cache = new ConfigCache<{ name: string; tags: string[] }>('flight-c');
    const before = cache.get('v', slowLoad({ name: 'old', tags: [] }));
    await new Promise((r) => setTimeout(r, 50));
    const releaseOld = release;
    await configChanged();
    const after = cache.get('v', async () => (loads++, { name: 'new', tags: [] }));
    expect((await after)!.name).to.equal('new');
    releaseOld();
    expect((await before)!.name).to.equal('old');
    expect(loads).to.equal(2);
    expect((await cache.get('v', async () => (loads++, { name: 'x', tags: [] })))!.name).to.equal(
      'new',
    );
  });
});

describe('config cache: Redis restarted empty', () => {
  it('a value cached before the restart is read again after it, even when as many changes follow as preceded it', async () => {
    const { redis, config } = ctx();
    const key = configEpochKey(config.redisPrefix);
    const cache = new ConfigCache<{ name: string }>('restart');
    let stored = 'old';
    const load = async () => ({ name: stored });
    // The deployment's first epoch, as on a new Redis.
    await redis.del(key);
    expect((await cache.get('v', load))!.name).to.equal('old');
    // Changed by hand (no epoch raised), then Redis restarts empty: the epoch starts again.
    stored = 'new';
    await redis.del(key);
    expect((await cache.get('v', load))!.name).to.equal('new');
    // And a change counted up from the new start does not land on an epoch a value was kept under.
    stored = 'newer';
    await redis.del(key);
    await configChanged();
    expect((await cache.get('v', load))!.name).to.equal('newer');
  });
});

/**
 * POST /v1/auth/token: the password grant for people, the client-credentials grant for
 * terminals, 401 for bad credentials, 429 after five failures per username (or client) per
 * minute, and login bodies whose operators never reach the database.
 */
import mongoose from 'mongoose';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import {
  http,
  makeHousehold,
  makeStore,
  makeTerminal,
  makeUser,
  makeVillage,
  unique,
} from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';

const decode = (token: string) => {
  const [h, p] = token.split('.');
  return {
    header: JSON.parse(Buffer.from(h!, 'base64url').toString()),
    payload: JSON.parse(Buffer.from(p!, 'base64url').toString()),
  };
};

/** Records every MongoDB operation mongoose sends while `fn` runs. */
async function recordQueries(fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  mongoose.set('debug', (collection: string, method: string, ...args: unknown[]) => {
    seen.push(`${collection}.${method} ${JSON.stringify(args[0])}`);
  });
  try {
    await fn();
  } finally {
    mongoose.set('debug', false);
  }
  return seen;
}

describe('POST /v1/auth/token', () => {
  let villageId: string;
  before(async () => {
    villageId = (await makeVillage()).id;
  });

  it('password grant › 200 with a 15-minute ES256 person token that works on person routes', async () => {
    const h = await makeHousehold(villageId);
    const u = await makeUser('household', { householdId: h.id });
    const res = await http()
      .post('/v1/auth/token')
      .send({ grantType: 'password', username: u.username, password: u.password });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body).to.have.keys(['accessToken', 'tokenType', 'expiresIn']);
    expect(res.body).to.include({ tokenType: 'Bearer', expiresIn: 900 });
    expect(res.headers['cache-control']).to.equal('no-store');
    const { header, payload } = decode(res.body.accessToken);
    expect(header).to.include({ alg: 'ES256', typ: 'person+jwt' });
    expect(header.kid).to.be.a('string').and.not.equal('');
    expect(payload).to.include({
      sub: u.user.id,
      role: 'household',
      iss: ctx().config.jwt.issuer,
      aud: ctx().config.jwt.audience,
    });
    expect(payload.exp - payload.iat).to.equal(900);
    const me = await http().get('/v1/me').set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(me.body).to.include({ id: u.user.id, role: 'household', householdId: h.id });
    const own = await http()
      .get(`/v1/households/${h.id}/account`)
      .set('Authorization', `Bearer ${res.body.accessToken}`);
    expect(own.status).to.equal(200);
  });

  it('client_credentials grant › 200 with a terminal token: accepted as the terminal, refused on household routes', async () => {
    const store = await makeStore([villageId]);
    const t = await makeTerminal(store.id);
    const res = await http().post('/v1/auth/token').send({
      grantType: 'client_credentials',
      clientId: t.clientId,
      clientSecret: t.clientSecret,
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    const { header, payload } = decode(res.body.accessToken);
    expect(header).to.include({ alg: 'ES256', typ: 'terminal+jwt' });
    expect(payload).to.include({ sub: t.id, role: 'terminal' });
    const auth = { Authorization: `Bearer ${res.body.accessToken}` };
    const me = await http().get('/v1/me').set(auth);
    expect(me.body).to.include({ id: t.id, role: 'terminal', kind: 'terminal', storeId: store.id });
    const h = await makeHousehold(villageId);
    const refused = await http().get(`/v1/households/${h.id}`).set(auth);
    expect(refused.status).to.equal(401);
    expect(refused.body.code).to.equal('unauthenticated');
  });

  it('bad credentials › 401 unauthenticated, the same for a wrong password, an unknown user, a wrong secret and an unknown client', async () => {
    const u = await makeUser('clerk', { villageId });
    const store = await makeStore([villageId]);
    const t = await makeTerminal(store.id);
    for (const body of [
      { grantType: 'password', username: u.username, password: `${u.password}x` },
      { grantType: 'password', username: unique('ghost'), password: 'whatever-password' },
      { grantType: 'password', username: u.username.toUpperCase(), password: u.password },
      { grantType: 'client_credentials', clientId: t.clientId, clientSecret: 'wrong-secret' },
      { grantType: 'client_credentials', clientId: unique('term_'), clientSecret: t.clientSecret },
    ]) {
      const res = await http().post('/v1/auth/token').send(body);
      expect(res.status, JSON.stringify(body)).to.equal(401);
      expect(res.body).to.include({
        code: 'unauthenticated',
        detail: 'The credentials are not valid.',
      });
      expect(res.body).not.to.have.property('accessToken');
    }
  });

  it('a disabled user and a revoked terminal cannot sign in', async () => {
    const u = await makeUser('council', { villageId });
    await mongoose.connection
      .db!.collection('users')
      .updateOne({ _id: new mongoose.Types.ObjectId(u.user.id) }, { $set: { disabled: true } });
    const res = await http()
      .post('/v1/auth/token')
      .send({ grantType: 'password', username: u.username, password: u.password });
    expect(res.status).to.equal(401);
    const store = await makeStore([villageId]);
    const t = await makeTerminal(store.id);
    await mongoose.connection
      .db!.collection('terminals')
      .updateOne({ _id: new mongoose.Types.ObjectId(t.id) }, { $set: { revokedAt: new Date() } });
    const res2 = await http().post('/v1/auth/token').send({
      grantType: 'client_credentials',
      clientId: t.clientId,
      clientSecret: t.clientSecret,
    });
    expect(res2.status).to.equal(401);
    // Its existing token stops working at once too.
    const me = await http().get('/v1/me').set(t.auth);
    expect(me.status).to.equal(401);
  });

  describe('rate limit', () => {
    it('five failed logins for a username in a minute → the 6th is 429 rate_limited with Retry-After, and the right password is refused too', async () => {
      const u = await makeUser('clerk', { villageId });
      for (let i = 0; i < 5; i++) {
        const res = await http()
          .post('/v1/auth/token')
          .send({ grantType: 'password', username: u.username, password: `wrong-${i}` });
        expect(res.status, `attempt ${i + 1}`).to.equal(401);
      }
      const sixth = await http()
        .post('/v1/auth/token')
        .send({ grantType: 'password', username: u.username, password: 'wrong-6' });
      expect(sixth.status).to.equal(429);
      expect(sixth.headers['content-type']).to.match(/^application\/problem\+json/);
      expect(sixth.body).to.include({ code: 'rate_limited', status: 429 });
      const retryAfter = Number(sixth.headers['retry-after']);
      expect(retryAfter).to.be.within(1, 60);

      const right = await http()
        .post('/v1/auth/token')
        .send({ grantType: 'password', username: u.username, password: u.password });
      expect(right.status).to.equal(429);
      expect(right.body).not.to.have.property('accessToken');
      // The count is per username, whatever its case.
      const upper = await http()
        .post('/v1/auth/token')
        .send({ grantType: 'password', username: u.username.toUpperCase(), password: u.password });
      expect(upper.status).to.equal(429);
    });

    it('the limit is per username: another user signs in while one is limited, and a success clears the count', async () => {
      const limited = await makeUser('clerk', { villageId });
      const other = await makeUser('clerk', { villageId });
      await Promise.all(
        Array.from({ length: 5 }, () =>
          http()
            .post('/v1/auth/token')
            .send({ grantType: 'password', username: limited.username, password: 'nope-nope' }),
        ),
      );
      expect(
        (
          await http()
            .post('/v1/auth/token')
            .send({ grantType: 'password', username: limited.username, password: limited.password })
        ).status,
      ).to.equal(429);
      expect(
        (
          await http()
            .post('/v1/auth/token')
            .send({ grantType: 'password', username: other.username, password: other.password })
        ).status,
      ).to.equal(200);

      const resets = await makeUser('clerk', { villageId });
      for (let i = 0; i < 4; i++)
        await http()
          .post('/v1/auth/token')
          .send({ grantType: 'password', username: resets.username, password: 'nope-nope' });
      expect(
        (
          await http()
            .post('/v1/auth/token')
            .send({ grantType: 'password', username: resets.username, password: resets.password })
        ).status,
      ).to.equal(200);
      for (let i = 0; i < 4; i++) {
        const res = await http()
          .post('/v1/auth/token')
          .send({ grantType: 'password', username: resets.username, password: 'nope-nope' });
        expect(res.status).to.equal(401);
      }
    });

    it('ten wrong guesses at once still let at most five through to a password check', async () => {
      const u = await makeUser('clerk', { villageId });
      const replies = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          http()
            .post('/v1/auth/token')
            .send({ grantType: 'password', username: u.username, password: `guess-${i}` }),
        ),
      );
      const statuses = replies.map((r) => r.status);
      expect(statuses.filter((s) => s === 401).length).to.be.at.most(5);
      expect(statuses.filter((s) => s === 429).length).to.be.at.least(5);
      expect(
        (
          await http()
            .post('/v1/auth/token')
            .send({ grantType: 'password', username: u.username, password: u.password })
        ).status,
      ).to.equal(429);
    });

    it('client credentials are limited per client id the same way', async () => {
      const store = await makeStore([villageId]);
      const t = await makeTerminal(store.id);
      for (let i = 0; i < 5; i++)
        await http()
          .post('/v1/auth/token')
          .send({
            grantType: 'client_credentials',
            clientId: t.clientId,
            clientSecret: `wrong-${i}`,
          });
      const res = await http().post('/v1/auth/token').send({
        grantType: 'client_credentials',
        clientId: t.clientId,
        clientSecret: t.clientSecret,
      });
      expect(res.status).to.equal(429);
      expect(res.body.code).to.equal('rate_limited');
    });
  });

  describe('operator objects in the login body', () => {
    it('the control: a normal login is seen querying users', async () => {
      const u = await makeUser('clerk', { villageId });
      const seen = await recordQueries(async () => {
        await http()
          .post('/v1/auth/token')
          .send({ grantType: 'password', username: u.username, password: u.password });
      });
      expect(seen.some((q) => q.startsWith('users.'))).to.equal(true);
    });

    const bodies: Record<string, unknown>[] = [
      { grantType: 'password', username: { $ne: null }, password: { $ne: null } },
      { grantType: 'password', username: { $gt: '' }, password: 'x-password' },
      { grantType: 'password', username: { $regex: '.*' }, password: 'x-password' },
      { grantType: 'password', username: 'admin', password: { $ne: null } },
      { grantType: 'password', username: { ne: null }, password: 'x-password' },
      { grantType: 'password', username: ['admin'], password: 'x-password' },
      { grantType: { $ne: null }, username: 'admin', password: 'x-password' },
      { grantType: 'client_credentials', clientId: { $ne: null }, clientSecret: { $ne: null } },
      { grantType: 'password', username: 'admin', password: 'x-password', $where: 'true' },
      { grantType: 'password', username: 'ad\u0000min', password: 'x-password' },
    ];
    for (const body of bodies) {
      it(`${JSON.stringify(body)} → 400 validation_failed; no query reaches users or terminals, nothing stored`, async () => {
        const before = await countAll();
        let res: { status: number; body: { code?: string; errors?: unknown[] } } | undefined;
        const seen = await recordQueries(async () => {
          res = await http().post('/v1/auth/token').send(body);
        });
        expect(res!.status).to.equal(400);
        expect(res!.body.code).to.equal('validation_failed');
        expect(res!.body.errors).to.be.an('array').with.length.greaterThan(0);
        expect(
          seen.filter((q) => q.startsWith('users.') || q.startsWith('terminals.')),
        ).to.deep.equal([]);
        await expectNothingStored(before);
      });
    }
  });
});

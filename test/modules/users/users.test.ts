/**
 * Users: who may create whom (the county office anyone; a clerk only council members and
 * household logins of their own village), unique usernames, passwords kept only as scrypt
 * hashes and never returned, and the admin bootstrap from the environment.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Types } from 'mongoose';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeCooperative,
  makeHousehold,
  makeStore,
  makeUser,
  makeVillage,
  unique,
  type TestUser,
} from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { User } from '../../../src/modules/users/users.model';

const PASSWORD = 'Secret-Pa55word-本村';

describe('POST /v1/users', () => {
  let admin: TestUser;
  let villageA: string;
  let villageB: string;
  let clerkA: TestUser;

  before(async () => {
    admin = await makeAdmin();
    villageA = (await makeVillage()).id;
    villageB = (await makeVillage()).id;
    clerkA = await makeUser('clerk', { villageId: villageA });
  });

  const create = (body: unknown, auth = admin.auth) =>
    http()
      .post('/v1/users')
      .set(auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify(body));

  it('the county office creates a clerk: 201 without the password or its hash, and the clerk signs in', async () => {
    const username = unique('clerk');
    const res = await create({ username, password: PASSWORD, role: 'clerk', villageId: villageA });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({ username, role: 'clerk', villageId: villageA });
    expect(res.body).to.have.keys(['id', 'username', 'role', 'villageId', 'createdAt']);
    expect(res.text).not.to.contain(PASSWORD);
    expect(res.text).not.to.contain('scrypt');
    const stored = await User.findById(res.body.id).lean();
    expect(stored!.passwordHash).to.match(/^scrypt\$/);
    expect(stored!.passwordHash).not.to.contain(PASSWORD);

    const login = await http()
      .post('/v1/auth/token')
      .send({ grantType: 'password', username, password: PASSWORD });
    expect(login.status).to.equal(200);
    expect(login.text).not.to.contain(PASSWORD);
    const me = await http().get('/v1/me').set('Authorization', `Bearer ${login.body.accessToken}`);
    expect(me.body).to.include({ id: res.body.id, role: 'clerk', villageId: villageA });
    expect(me.text).not.to.contain(PASSWORD);
    expect(me.text).not.to.contain('scrypt');
    expect(me.body).not.to.have.any.keys('password', 'passwordHash');
  });

  it('refusals never echo the password either (duplicate username, validation errors)', async () => {
    const username = unique('echo');
    expect(
      (await create({ username, password: PASSWORD, role: 'council', villageId: villageA })).status,
    ).to.equal(201);
    const dup = await create({
      username,
      password: PASSWORD,
      role: 'council',
      villageId: villageA,
    });
    expect(dup.text).not.to.contain(PASSWORD);
    const bad = await create({
      username: 'bad name',
      password: PASSWORD,
      role: 'nope',
      villageId: villageA,
    });
    expect(bad.status).to.equal(400);
    expect(bad.text).not.to.contain(PASSWORD);
    const short = await create({
      username: unique('s'),
      password: 'Sh0rt本',
      role: 'council',
      villageId: villageA,
    });
    expect(short.status).to.equal(400);
    expect(short.text).not.to.contain('Sh0rt本');
  });

  it('a username already taken is 409 conflict; five creates of one username at once make one user', async () => {
    const username = unique('dup');
    expect(
      (await create({ username, password: PASSWORD, role: 'council', villageId: villageA })).status,
    ).to.equal(201);
    const again = await create({
      username,
      password: `${PASSWORD}2`,
      role: 'clerk',
      villageId: villageB,
    });
    expect(again.status).to.equal(409);
    expect(again.body.code).to.equal('conflict');
    const username2 = unique('dup');
    const replies = await Promise.all(
      Array.from({ length: 5 }, () =>
        create({ username: username2, password: PASSWORD, role: 'council', villageId: villageA }),
      ),
    );
    expect(replies.map((r) => r.status).sort()).to.deep.equal([201, 409, 409, 409, 409]);
    expect(await User.countDocuments({ username: username2 })).to.equal(1);
  });

  describe('a clerk', () => {
    it('creates council members and household logins of their own village', async () => {
      const council = await create(
        { username: unique('c'), password: PASSWORD, role: 'council', villageId: villageA },
        clerkA.auth,
      );
      expect(council.status, JSON.stringify(council.body)).to.equal(201);
      const h = await makeHousehold(villageA);
      const household = await create(
        { username: unique('h'), password: PASSWORD, role: 'household', householdId: h.id },
        clerkA.auth,
      );
      expect(household.status).to.equal(201);
      expect(household.body).to.include({ householdId: h.id, villageId: villageA });
    });

    const refused: [string, () => Promise<Record<string, unknown>>][] = [
      ['an admin', async () => ({ role: 'admin' })],
      ['a clerk', async () => ({ role: 'clerk', villageId: villageA })],
      [
        'an officer',
        async () => ({ role: 'officer', cooperativeId: (await makeCooperative([villageA])).id }),
      ],
      [
        'a terminal user',
        async () => ({ role: 'terminal', storeId: (await makeStore([villageA])).id }),
      ],
      [
        'a council member of another village',
        async () => ({ role: 'council', villageId: villageB }),
      ],
      [
        'a council member of a village that does not exist',
        async () => ({ role: 'council', villageId: new Types.ObjectId().toHexString() }),
      ],
    ];
    for (const [label, scope] of refused) {
      it(`creating ${label} is 403 forbidden and nothing is stored`, async () => {
        const body = { username: unique('x'), password: PASSWORD, ...(await scope()) };
        const before = await countAll();
        const res = await create(body, clerkA.auth);
        expect(res.status, JSON.stringify(res.body)).to.equal(403);
        expect(res.body.code).to.equal('forbidden');
        await expectNothingStored(before);
      });
    }
  });

  it('a clerk naming a household of another village gets the same answer as for one that does not exist (400 no such household); nothing stored', async () => {
    const elsewhere = (await makeHousehold(villageB)).id;
    const missing = new Types.ObjectId().toHexString();
    const before = await countAll();
    for (const scope of [
      (householdId: string) => ({ role: 'household', householdId }),
      (householdId: string) => ({ role: 'household', householdId, villageId: villageA }),
      (householdId: string) => ({ role: 'council', villageId: villageA, householdId }),
    ]) {
      const answers = [];
      for (const householdId of [elsewhere, missing]) {
        const res = await create(
          { username: 'same-name-both-times', password: PASSWORD, ...scope(householdId) },
          clerkA.auth,
        );
        answers.push({ status: res.status, body: res.body });
      }
      expect(answers[0], JSON.stringify(answers)).to.deep.equal(answers[1]);
      expect(answers[0]!.status).to.equal(400);
      expect(answers[0]!.body.errors).to.deep.equal([
        { path: 'householdId', message: 'no such household' },
      ]);
    }
    await expectNothingStored(before);
  });

  it('council members and households may not create users (403); nothing stored', async () => {
    const council = await makeUser('council', { villageId: villageA });
    const household = await makeUser('household', {
      householdId: (await makeHousehold(villageA)).id,
    });
    const target = await makeHousehold(villageA);
    const before = await countAll();
    for (const who of [council, household]) {
      const res = await create(
        { username: unique('x'), password: PASSWORD, role: 'household', householdId: target.id },
        who.auth,
      );
      expect(res.status).to.equal(403);
    }
    await expectNothingStored(before);
  });

  it('mass assignment: passwordHash, disabled, _id or createdAt in the body, or an unknown role, is 400; nothing stored', async () => {
    const before = await countAll();
    for (const extra of [
      { passwordHash: 'scrypt$15$8$1$AAAA$BBBB' },
      { disabled: false },
      { _id: new Types.ObjectId().toHexString() },
      { id: new Types.ObjectId().toHexString() },
      { createdAt: '2020-01-01T00:00:00Z' },
      { role: 'superadmin' },
      { role: ['admin'] },
      { role: { $ne: 'household' } },
    ]) {
      const res = await create({
        username: unique('m'),
        password: PASSWORD,
        role: 'council',
        villageId: villageA,
        ...extra,
      });
      expect(res.status, JSON.stringify(extra)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
    }
    await expectNothingStored(before);
  });

  it('scope must fit the role and exist: 400 validation_failed naming the field; nothing stored', async () => {
    const before = await countAll();
    const cases: [Record<string, unknown>, string][] = [
      [{ role: 'clerk' }, 'villageId'],
      [{ role: 'clerk', villageId: new Types.ObjectId().toHexString() }, 'villageId'],
      [{ role: 'admin', villageId: villageA }, 'villageId'],
      [{ role: 'household' }, 'householdId'],
      [{ role: 'household', householdId: new Types.ObjectId().toHexString() }, 'householdId'],
      [{ role: 'officer' }, 'cooperativeId'],
      [{ role: 'terminal', storeId: new Types.ObjectId().toHexString() }, 'storeId'],
      [
        { role: 'clerk', villageId: villageA, storeId: new Types.ObjectId().toHexString() },
        'storeId',
      ],
    ];
    for (const [scope, field] of cases) {
      const res = await create({ username: unique('sc'), password: PASSWORD, ...scope });
      expect(res.status, JSON.stringify(scope)).to.equal(400);
      expect(
        res.body.errors.map((e: { path: string }) => e.path),
        JSON.stringify(scope),
      ).to.include(field);
    }
    await expectNothingStored(before);
  });

  it('refuses bad usernames and passwords with 400; nothing stored', async () => {
    const before = await countAll();
    for (const [username, password] of [
      ['ab', PASSWORD],
      ['has space', PASSWORD],
      ['用户名', PASSWORD],
      ['x'.repeat(65), PASSWORD],
      [unique('p'), 'short'],
      [unique('p'), `nul\u0000${PASSWORD}`],
      [unique('p'), 'x'.repeat(257)],
    ]) {
      const res = await create({ username, password, role: 'council', villageId: villageA });
      expect(res.status, `${username} / ${password?.slice(0, 10)}`).to.equal(400);
    }
    await expectNothingStored(before);
  });
});

describe('admin bootstrap from the environment (ensureBootstrapAdmin)', function () {
  this.timeout(120_000);

  it('on an empty database creates the admin once; a later start with another name creates nothing; starts racing create one', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(__dirname, 'bootstrap-admin.child.ts')],
      {
        cwd: path.resolve(__dirname, '../../..'),
        env: {
          ...process.env,
          MSL_CHILD_URI: ctx().mongoUri,
          MSL_CHILD_DB: `${ctx().config.mongodbDb}_boot`,
          MSL_CHILD_KDF: String(ctx().config.passwordKdfLog2N),
        },
      },
    );
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out.withoutEnv).to.equal(false);
    expect(out.first).to.equal(true);
    expect(out.second).to.equal(false);
    expect(out.again).to.equal(false);
    expect(out.seqAdmins).to.deep.equal([{ username: 'county-admin', hashIsScrypt: true }]);
    expect(out.firstPasswordStillWorks).to.equal(true);
    expect(out.parallel.filter((x: boolean) => x)).to.have.length(1);
    expect(out.parAdmins).to.deep.equal([{ username: 'county-admin', hashIsScrypt: true }]);
  });
});

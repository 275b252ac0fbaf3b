import { createAdmin } from '../../../src/cli/create-admin';
import { DomainError } from '../../../src/platform/errors';
import { User } from '../../../src/modules/users/users.model';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { http, unique } from '../../support/factories';

const kdfLog2N = () => ctx().config.passwordKdfLog2N;

describe('CLI create-admin', () => {
  it('createAdmin › an admin with a generated password signs in and may act as admin', async () => {
    const username = unique('admin');
    const { user, generatedPassword } = await createAdmin({ username, kdfLog2N: kdfLog2N() });
    expect(user.role).to.equal('admin');
    expect(generatedPassword).to.match(/^[A-Za-z0-9_-]{24}$/);
    const login = await http()
      .post('/v1/auth/token')
      .send({ grantType: 'password', username, password: generatedPassword });
    expect(login.status).to.equal(200);
    const villages = await http()
      .get('/v1/villages')
      .set({ Authorization: `Bearer ${login.body.accessToken}` });
    expect(villages.status).to.equal(200);
  });

  it('createAdmin › ten at once with one username create one admin; the others are told it is taken', async () => {
    const username = unique('admin');
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        createAdmin({ username, password: 'correct horse battery', kdfLog2N: kdfLog2N() }),
      ),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
    for (const r of results.filter((x): x is PromiseRejectedResult => x.status === 'rejected')) {
      expect(r.reason).to.be.instanceOf(DomainError);
      expect(r.reason.code).to.equal('conflict');
    }
    expect(await User.countDocuments({ username })).to.equal(1);
  });

  it('createAdmin › refuses what POST /v1/users refuses (short password, bad username, NUL) and stores nothing', async () => {
    const cases = [
      { username: unique('admin'), password: 'short' },
      { username: 'bad name!', password: 'long-enough-password' },
      { username: unique('admin'), password: 'long-enough\u0000password' },
      { username: 'x', password: 'long-enough-password' },
    ];
    for (const c of cases) {
      const err = await createAdmin({ ...c, kdfLog2N: kdfLog2N() }).catch((e: unknown) => e);
      expect(err, JSON.stringify(c)).to.be.instanceOf(DomainError);
      expect((err as DomainError).code).to.equal('validation_failed');
      expect(await User.countDocuments({ username: c.username })).to.equal(0);
    }
  });
});

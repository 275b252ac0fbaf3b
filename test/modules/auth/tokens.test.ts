/**
 * Access tokens: forged ones are refused with 401, real ones work only where their kind and
 * role belong, and the token endpoint issues them, refuses bad credentials, and slows down
 * guessing. Forgeries are built by hand (header, payload, signature) from the service's own
 * key file, so each test changes exactly one thing; a control built the same way is accepted.
 */
import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  type KeyObject,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import {
  http,
  makeAdmin,
  makeCooperative,
  makeHousehold,
  makeStore,
  makeTerminal,
  makeUser,
  makeVillage,
  type TestUser,
} from '../../support/factories';

const b64url = (v: unknown) =>
  Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

interface Forge {
  header?: Record<string, unknown>;
  payload?: Record<string, unknown>;
  /** Remove these claims from the payload. */
  drop?: string[];
  /** Sign with this EC key instead of the service's own. */
  key?: KeyObject;
}

describe('access tokens', () => {
  let privateKey: KeyObject;
  let publicKey: KeyObject;
  let kid: string;
  let clerk: TestUser;
  let admin: TestUser;
  let householdUrl: string;

  before(async () => {
    const keyDir = path.join(ctx().dataDir, 'keys');
    privateKey = createPrivateKey(readFileSync(path.join(keyDir, 'jwt-es256.pem')));
    publicKey = createPublicKey(privateKey);
    kid = readFileSync(path.join(keyDir, 'jwt-es256.kid'), 'utf8').trim();
    const v = await makeVillage();
    const h = await makeHousehold(v.id);
    householdUrl = `/v1/households/${h.id}`;
    clerk = await makeUser('clerk', { villageId: v.id });
    admin = await makeAdmin();
  });

  /** A token for the clerk, built by hand; `opts` change one thing. */
  function forge(opts: Forge = {}): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'ES256', typ: 'person+jwt', kid, ...opts.header };
    const payload: Record<string, unknown> = {
      role: 'clerk',
      sub: clerk.user.id,
      iss: ctx().config.jwt.issuer,
      aud: ctx().config.jwt.audience,
      iat: now,
      exp: now + 600,
      ...opts.payload,
    };
    for (const k of opts.drop ?? []) delete payload[k];
    const input = `${b64url(header)}.${b64url(payload)}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: opts.key ?? privateKey,
      dsaEncoding: 'ieee-p1363',
    });
    return `${input}.${signature.toString('base64url')}`;
  }

  const call = (token: string, url = householdUrl) =>
    http().get(url).set('Authorization', `Bearer ${token}`);

  async function expect401(token: string, url = householdUrl) {
    const res = await call(token, url);
    expect(res.status, JSON.stringify(res.body)).to.equal(401);
    expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
    expect(res.body).to.include({ code: 'unauthenticated', status: 401 });
  }

  it('a token built by hand like the service builds them is accepted (the control for the forgeries below)', async () => {
    const res = await call(forge());
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
  });

  describe('forged or broken tokens → 401 unauthenticated', () => {
    it('alg "none" with no signature', async () => {
      const header = b64url({ alg: 'none', typ: 'person+jwt', kid });
      const payload = forge().split('.')[1];
      await expect401(`${header}.${payload}.`);
      await expect401(`${header}.${payload}`);
    });

    it('alg switched to HS256 and signed with the public key as the HMAC secret', async () => {
      const payload = forge({ payload: { role: 'admin', sub: admin.user.id } }).split('.')[1];
      for (const secret of [
        publicKey.export({ type: 'spki', format: 'pem' }) as string,
        publicKey.export({ type: 'spki', format: 'der' }),
      ]) {
        for (const alg of ['HS256', 'HS512']) {
          const input = `${b64url({ alg, typ: 'person+jwt', kid })}.${payload}`;
          const mac = createHmac(alg === 'HS256' ? 'sha256' : 'sha512', secret)
            .update(input)
            .digest('base64url');
          await expect401(`${input}.${mac}`);
        }
      }
    });

    it('payload tampered after signing: role raised to admin, or sub swapped to the admin', async () => {
      const [h, , s] = forge().split('.');
      await expect401(
        `${h}.${b64url({ ...JSON.parse(Buffer.from(forge().split('.')[1]!, 'base64url').toString()), role: 'admin' })}.${s}`,
      );
      await expect401(
        `${h}.${b64url({ ...JSON.parse(Buffer.from(forge().split('.')[1]!, 'base64url').toString()), sub: admin.user.id, role: 'admin' })}.${s}`,
      );
    });

    it('a validly signed token claiming a role the user does not have', async () => {
      await expect401(forge({ payload: { role: 'admin' } }), '/v1/villages');
    });

    it('expired, and not yet valid', async () => {
      const now = Math.floor(Date.now() / 1000);
      await expect401(forge({ payload: { iat: now - 3600, exp: now - 60 } }));
      await expect401(forge({ payload: { nbf: now + 600 } }));
    });

    it('without exp', async () => {
      await expect401(forge({ drop: ['exp'] }));
    });

    it('wrong or missing audience', async () => {
      await expect401(forge({ payload: { aud: 'some-other-api' } }));
      await expect401(forge({ drop: ['aud'] }));
    });

    it('wrong or missing issuer', async () => {
      await expect401(forge({ payload: { iss: 'someone-else' } }));
      await expect401(forge({ drop: ['iss'] }));
    });

    it('unknown kid, no kid, and a foreign key presenting our kid', async () => {
      await expect401(forge({ header: { kid: 'not-a-key-of-ours' } }));
      await expect401(forge({ header: { kid: undefined } }));
      const { privateKey: foreign } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await expect401(forge({ key: foreign }));
    });

    it('a typ that names no token kind, or none', async () => {
      await expect401(forge({ header: { typ: 'JWT' } }));
      await expect401(forge({ header: { typ: undefined } }));
    });

    it('a terminal-kind token for a person, and a person-kind token for a terminal', async () => {
      await expect401(forge({ header: { typ: 'terminal+jwt' } }));
      await expect401(forge({ header: { typ: 'terminal+jwt' } }), '/v1/me');
      const store = await makeStore([(await makeVillage()).id]);
      const terminal = await makeTerminal(store.id);
      await expect401(
        forge({ header: { typ: 'person+jwt' }, payload: { sub: terminal.id, role: 'terminal' } }),
        '/v1/me',
      );
      await expect401(
        forge({ header: { typ: 'person+jwt' }, payload: { sub: terminal.id, role: 'terminal' } }),
        `/v1/stores/${store.id}`,
      );
    });

    it('a token whose subject no longer exists or is disabled', async () => {
      await expect401(forge({ payload: { sub: new mongoose.Types.ObjectId().toHexString() } }));
      await expect401(forge({ payload: { sub: 'not-an-id' } }));
      const gone = await makeUser('clerk', { villageId: clerk.user.villageId! });
      await mongoose.connection
        .db!.collection('users')
        .updateOne(
          { _id: new mongoose.Types.ObjectId(gone.user.id) },
          { $set: { disabled: true } },
        );
      await expect401(gone.token);
    });

    it('garbage, a missing header, and other schemes', async () => {
      for (const auth of [
        'Bearer',
        'Bearer ',
        'Bearer x.y.z',
        'Bearer a.b',
        `Basic ${b64url('a:b')}`,
        `Token ${clerk.token}`,
        `Bearer ${clerk.token} extra`,
      ]) {
        const res = await http().get(householdUrl).set('Authorization', auth);
        expect(res.status, auth).to.equal(401);
        expect(res.body.code).to.equal('unauthenticated');
      }
      const none = await http().get(householdUrl);
      expect(none.status).to.equal(401);
    });
  });

  describe('real tokens outside their kind or role', () => {
    it('a terminal token on household routes → 401 (its kind is not accepted there); an officer token → 403 forbidden', async () => {
      const v = await makeVillage();
      const h = await makeHousehold(v.id);
      const store = await makeStore([v.id]);
      const terminal = await makeTerminal(store.id);
      const officer = await makeUser('officer', {
        cooperativeId: (await makeCooperative([v.id])).id,
      });
      for (const [auth, status, code] of [
        [terminal.auth, 401, 'unauthenticated'],
        [officer.auth, 403, 'forbidden'],
      ] as const) {
        for (const url of [
          `/v1/households/${h.id}`,
          `/v1/households/${h.id}/account`,
          `/v1/households/${h.id}/entries`,
          `/v1/households/${h.id}/inquiries`,
        ]) {
          const res = await http().get(url).set(auth);
          expect(res.status, `${url} ${JSON.stringify(res.body)}`).to.equal(status);
          expect(res.body.code).to.equal(code);
        }
        const post = await http()
          .post(`/v1/households/${h.id}/adjustments`)
          .set(auth)
          .send({ points: 5, reason: '越权' });
        expect(post.status).to.equal(status);
      }
    });
  });
});

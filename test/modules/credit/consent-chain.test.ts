/**
 * The officer's consent check by `_id` alone (consent-chain.ts CN1–CN3): a household's consents to a
 * cooperative form a chain whose end governs; grants at once are arbitrated by the unique `_id`;
 * a crash between a consent and its head hint, or a hint written out of order, still reads
 * correctly; a database whose consents were stored before chains answers the same after the
 * migration; and a warm look-up sends no filter but a lone `_id` equality.
 */
import { Types } from 'mongoose';
import { runCli, type CliIo } from '../../../src/cli/commands';
import { ctx } from '../../support/context';
import { expect } from '../../support/expect';
import { filtersSent, notLoneId } from '../../support/filters';
import { http, makeCooperative, makeUser } from '../../support/factories';
import { clock } from '../../../src/platform/clock';
import { consentFaults, resetFaults } from '../../../src/platform/faults';
import {
  CONSENT_HEADS_MARK,
  consentIdOf,
  forgetChainHeads,
  migrateConsentHeads,
} from '../../../src/modules/credit/consent-chain';
import {
  Consent,
  CONSENT_FIELDS,
  ConsentHead,
  ConsentRevocation,
  SweepMark,
  type ConsentDoc,
} from '../../../src/modules/credit/credit.model';
import { consentValidAt } from '../../../src/modules/credit/consents.service';
import {
  consent,
  inDays,
  lookUp,
  makeCreditWorld,
  makeMember,
  type CreditWorld,
  DAY_MS,
} from './helpers';

type Member = Awaited<ReturnType<typeof makeMember>>;

const revoke = (m: Member, id: string) =>
  http().delete(`/v1/consents/${id}`).set(m.login.auth).expect(200);

const statusOf = async (m: Member) => {
  const res = await http().get('/v1/consents').query({ householdId: m.id }).set(m.login.auth);
  expect(res.status).to.equal(200);
  return (res.body.items as { id: string; status: string }[]).map((c) => [c.id, c.status]);
};

describe('Consent chains: the look-up finds the governing consent by _id', () => {
  let w: CreditWorld;
  const realNow = clock.now;
  beforeEach(async () => {
    w = await makeCreditWorld();
  });
  afterEach(() => {
    clock.now = realNow;
    resetFaults();
  });

  it('granted → 200; revoked → 403; granted again → 200; that one revoked → 403 (ids are the chain’s links, CN1)', async () => {
    const m = await makeMember(w.villageId);
    const first = await consent(m, w.cooperativeId);
    expect(first).to.equal(consentIdOf(m.id, w.cooperativeId, 1).toHexString());
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    await revoke(m, first);
    expect((await lookUp(w.officer, m.id)).body.code).to.equal('consent_required');
    const second = await consent(m, w.cooperativeId);
    expect(second).to.equal(consentIdOf(m.id, w.cooperativeId, 2).toHexString());
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    await revoke(m, second);
    expect((await lookUp(w.officer, m.id)).status).to.equal(403);
  });

  it('an expired consent refuses; a renewal given later governs', async () => {
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId, { expiresAt: new Date(Date.now() + DAY_MS).toISOString() });
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    clock.now = () => new Date(Date.now() + 2 * DAY_MS);
    expect((await lookUp(w.officer, m.id)).body.code).to.equal('consent_required');
    await consent(m, w.cooperativeId, { expiresAt: inDays(365) });
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
  });

  it('two cooperatives: each chain answers for its own cooperative only', async () => {
    const m = await makeMember(w.villageId);
    const coopB = await makeCooperative([w.villageId]);
    const officerB = await makeUser('officer', { cooperativeId: coopB.id });
    const toA = await consent(m, w.cooperativeId);
    expect((await lookUp(officerB, m.id)).status).to.equal(403);
    await consent(m, coopB.id);
    expect((await lookUp(officerB, m.id)).status).to.equal(200);
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    await revoke(m, toA);
    expect((await lookUp(w.officer, m.id)).status).to.equal(403);
    expect((await lookUp(officerB, m.id)).status).to.equal(200);
  });

  it('eight grants at once take links 1–8 with rising grantedAt, exactly one is active, and revoking it refuses (CN1, CN2)', async () => {
    const m = await makeMember(w.villageId);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        http()
          .post('/v1/consents')
          .set(m.login.auth)
          .send({ householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: inDays(365) }),
      ),
    );
    expect(results.map((r) => r.status)).to.deep.equal(Array(8).fill(201));
    const links = Array.from({ length: 8 }, (_, i) =>
      consentIdOf(m.id, w.cooperativeId, i + 1).toHexString(),
    );
    expect(results.map((r) => r.body.id as string).sort()).to.deep.equal([...links].sort());
    const stored = await Consent.find({ householdId: m.id }).lean<ConsentDoc[]>();
    const byLink = links.map((id) => stored.find((c) => c._id.toHexString() === id)!);
    for (let i = 1; i < byLink.length; i++)
      expect(byLink[i]!.grantedAt.getTime()).to.be.greaterThan(byLink[i - 1]!.grantedAt.getTime());
    const statuses = await statusOf(m);
    expect(statuses.filter(([, s]) => s === 'active')).to.deep.equal([[links[7], 'active']]);
    await revoke(m, links[7]!);
    expect((await lookUp(w.officer, m.id)).status).to.equal(403);
  });

  it('a crash between a consent and its head hint: the look-up still finds it, and its revocation still refuses (CN3)', async () => {
    const m = await makeMember(w.villageId);
    const first = await consent(m, w.cooperativeId);
    consentFaults.afterInsert = () => {
      throw new Error('crash after the consent record');
    };
    const crashed = await http()
      .post('/v1/consents')
      .set(m.login.auth)
      .send({ householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: inDays(30) });
    expect(crashed.status).to.equal(500);
    resetFaults();
    const second = consentIdOf(m.id, w.cooperativeId, 2).toHexString();
    // The record exists; the stored hint still names the first consent.
    expect(await Consent.findById(second).lean()).to.not.equal(null);
    const hint = await ConsentHead.findById(`${m.id}|${w.cooperativeId}`).lean();
    expect(hint).to.include({ seq: 1, consentId: first });
    expect(await statusOf(m)).to.deep.equal([
      [second, 'active'],
      [first, 'superseded'],
    ]);
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    forgetChainHeads(); // as after a restart: only the stored hint, which lags
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    // The household withdraws what its list shows as active: the look-up must not fall back to
    // the first consent, which the lagging hint names.
    await revoke(m, second);
    expect((await lookUp(w.officer, m.id)).status).to.equal(403);
    // A hint moved back by a slower writer (or lost altogether) reads the same.
    await ConsentHead.deleteOne({ _id: `${m.id}|${w.cooperativeId}` });
    const m2 = await makeMember(w.villageId);
    await consent(m2, w.cooperativeId);
    await ConsentHead.deleteOne({ _id: `${m2.id}|${w.cooperativeId}` });
    forgetChainHeads();
    expect((await lookUp(w.officer, m2.id)).status).to.equal(200);
    expect((await lookUp(w.officer, m.id)).status).to.equal(403);
  });

  it('a database whose consents were stored before chains answers the same after the migration (CN3)', async () => {
    const t = (daysAgo: number) => new Date(Date.now() - daysAgo * DAY_MS);
    const coopB = await makeCooperative([w.villageId]);
    const officerB = await makeUser('officer', { cooperativeId: coopB.id });
    const members = await Promise.all(Array.from({ length: 6 }, () => makeMember(w.villageId)));
    const legacy: ConsentDoc[] = [];
    const revoked: string[] = [];
    const give = (m: Member, coop: string, daysAgo: number, expiresInDays: number, rev = false) => {
      const c: ConsentDoc = {
        _id: new Types.ObjectId(),
        householdId: m.id,
        villageId: w.villageId,
        cooperativeId: coop,
        recipient: '农村信用合作社',
        purpose: '农户信用评级及授信参考',
        fields: [...CONSENT_FIELDS],
        grantedAt: t(daysAgo),
        expiresAt: new Date(Date.now() + expiresInDays * DAY_MS),
        method: 'household',
        recordedBy: m.login.user.id,
      };
      legacy.push(c);
      if (rev) revoked.push(c._id.toHexString());
    };
    const [active, renewedThenRevoked, expired, twoCoops, revokedThenRenewed, none] = members as [
      Member,
      Member,
      Member,
      Member,
      Member,
      Member,
    ];
    give(active, w.cooperativeId, 30, 300);
    give(renewedThenRevoked, w.cooperativeId, 60, 300);
    give(renewedThenRevoked, w.cooperativeId, 10, 300, true);
    give(expired, w.cooperativeId, 400, -35);
    give(twoCoops, w.cooperativeId, 20, 300);
    give(twoCoops, coopB.id, 20, 300, true);
    give(revokedThenRenewed, w.cooperativeId, 90, 300, true);
    give(revokedThenRenewed, w.cooperativeId, 5, 300);
    // Stored the way the old code stored them: records and revocations, no heads.
    await Consent.collection.insertMany(legacy as never[]);
    await ConsentRevocation.collection.insertMany(
      revoked.map((id) => {
        const c = legacy.find((x) => x._id.toHexString() === id)!;
        return {
          _id: id,
          householdId: c.householdId,
          cooperativeId: c.cooperativeId,
          revokedAt: t(1),
          revokedBy: c.recordedBy,
          revokedByRole: 'household',
        } as never;
      }),
    );
    await SweepMark.deleteOne({ _id: CONSENT_HEADS_MARK });

    // What the records say, by the rule itself over every consent of the pair.
    const expected = (m: Member, coop: string) => {
      const terms = legacy
        .filter((c) => c.householdId === m.id && c.cooperativeId === coop)
        .map((c) => ({
          id: c._id.toHexString(),
          grantedAt: c.grantedAt.getTime(),
          expiresAt: c.expiresAt.getTime(),
        }));
      const ok = consentValidAt(
        terms,
        (id) => (revoked.includes(id) ? t(1).getTime() : undefined),
        [Date.now()],
      );
      return ok ? 200 : 403;
    };
    const cases: [Member, string, typeof w.officer][] = [
      ...members.map((m) => [m, w.cooperativeId, w.officer] as [Member, string, typeof w.officer]),
      [twoCoops, coopB.id, officerB],
    ];
    const answers = async () => {
      const out: number[] = [];
      for (const [m, , officer] of cases) out.push((await lookUp(officer, m.id)).status);
      return out;
    };
    const want = cases.map(([m, coop]) => expected(m, coop));
    expect(want).to.deep.equal([200, 403, 403, 200, 200, 403, 403]);
    // Without heads the consents are out of the look-up's reach (the migration is what finds them).
    expect(await answers()).to.deep.equal([403, 403, 403, 403, 403, 403, 403]);

    // The CLI's migrate-consents (npm start runs the same function at start-up).
    const out: string[] = [];
    const io: CliIo = { out: (l) => out.push(l), err: (l) => out.push(l) };
    const code = await runCli(['migrate-consents'], {
      config: ctx().config,
      logger: ctx().logger,
      io,
      connect: async () => ({ source: 'test', close: async () => undefined }),
    });
    expect(code).to.equal(0);
    const written = Number(/^(\d+) consent head\(s\) written/.exec(out.join('\n'))?.[1]);
    expect(written, out.join('\n')).to.be.at.least(6);
    expect(await answers()).to.deep.equal(want);
    expect(await migrateConsentHeads()).to.equal(0); // once per database

    // A new grant on a migrated pair supersedes the old consents; revoking it resurrects none.
    const renewal = await consent(renewedThenRevoked, w.cooperativeId);
    expect((await lookUp(w.officer, renewedThenRevoked.id)).status).to.equal(200);
    await revoke(renewedThenRevoked, renewal);
    expect((await lookUp(w.officer, renewedThenRevoked.id)).status).to.equal(403);
    const again = await consent(active, w.cooperativeId);
    expect((await statusOf(active)).map(([id, s]) => [id === again, s])).to.deep.equal([
      [true, 'active'],
      [false, 'superseded'],
    ]);
    expect(none.id).to.be.a('string');
  });

  it('a warm officer look-up sends no filter but a lone _id equality', async () => {
    const m = await makeMember(w.villageId);
    await consent(m, w.cooperativeId);
    expect((await lookUp(w.officer, m.id)).status).to.equal(200);
    const refused = await makeMember(w.villageId);
    expect((await lookUp(w.officer, refused.id)).status).to.equal(403);
    const seen = await filtersSent(async () => {
      expect((await lookUp(w.officer, m.id)).status).to.equal(200);
      expect((await lookUp(w.officer, refused.id)).status).to.equal(403);
    });
    expect(seen.filter((s) => s.startsWith('credit_consent'))).to.have.length.at.least(3);
    expect(notLoneId(seen)).to.deep.equal([]);
  });
});

/**
 * Consents (PIPL art. 23): per cooperative, given by the household or recorded by its clerk from
 * a signed paper form, with recipient, purpose, fields, expiry and an optional customer
 * reference; revocable by a record; a printable receipt in Chinese. Bad input stores nothing.
 */
import mongoose from 'mongoose';
import { expect } from '../../support/expect';
import { http, makeAdmin, makeCooperative, makeUser, makeVillage } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { consent, inDays, makeCreditWorld, makeMember, type CreditWorld } from './helpers';

describe('POST /v1/consents, DELETE /v1/consents/:id, GET /v1/consents/:id/receipt.txt', () => {
  let w: CreditWorld;
  beforeEach(async () => {
    w = await makeCreditWorld();
  });

  it('a household gives consent: 201 with recipient, purpose, fields, expiry and status active', async () => {
    const m = await makeMember(w.villageId);
    const res = await http()
      .post('/v1/consents')
      .set(m.login.auth)
      .send({
        householdId: m.id,
        cooperativeId: w.cooperativeId,
        expiresAt: inDays(180),
        customerRef: 'CUST-0042',
      });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.id).to.match(/^[a-f0-9]{24}$/);
    expect(res.body).to.include({
      householdId: m.id,
      cooperativeId: w.cooperativeId,
      recipient: '农村信用合作社',
      purpose: '农户信用评级及授信参考',
      method: 'household',
      customerRef: 'CUST-0042',
      status: 'active',
    });
    expect(res.body.fields).to.deep.equal([
      'score',
      'grade',
      'reasons',
      'customerRef',
      'headNameMasked',
      'village',
    ]);
    expect(res.body).to.not.have.property('formRef');
  });

  it('a clerk records a signed paper form (formRef required) for a household of their village only', async () => {
    const m = await makeMember(w.villageId);
    const ok = await http()
      .post('/v1/consents')
      .set(w.clerk.auth)
      .send({
        householdId: m.id,
        cooperativeId: w.cooperativeId,
        expiresAt: inDays(365),
        formRef: 'FORM-2026-001',
      });
    expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    expect(ok.body).to.include({
      method: 'paper_form',
      formRef: 'FORM-2026-001',
      recordedBy: w.clerk.user.id,
    });
    const otherVillage = await makeVillage();
    const otherClerk = await makeUser('clerk', { villageId: otherVillage.id });
    const before = await countAll();
    const noForm = await http()
      .post('/v1/consents')
      .set(w.clerk.auth)
      .send({ householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: inDays(365) });
    expect(noForm.status).to.equal(400);
    expect(noForm.body.errors.map((e: { path: string }) => e.path)).to.include('formRef');
    const outside = await http()
      .post('/v1/consents')
      .set(otherClerk.auth)
      .send({
        householdId: m.id,
        cooperativeId: w.cooperativeId,
        expiresAt: inDays(365),
        formRef: 'F-1',
      });
    expect(outside.status).to.equal(404);
    await expectNothingStored(before, 'refused consents');
  });

  it('refuses bad consents with problem+json and stores nothing', async () => {
    const m = await makeMember(w.villageId);
    const other = await makeMember(w.villageId);
    const farCoop = await makeCooperative([(await makeVillage()).id]);
    const admin = await makeAdmin();
    const before = await countAll();
    const cases: [Record<string, unknown>, number, string][] = [
      [
        { householdId: other.id, cooperativeId: w.cooperativeId, expiresAt: inDays(30) },
        404,
        'not_found',
      ],
      [
        { householdId: m.id, cooperativeId: farCoop.id, expiresAt: inDays(30) },
        400,
        'validation_failed',
      ],
      [
        { householdId: m.id, cooperativeId: '0123456789abcdef01234567', expiresAt: inDays(30) },
        400,
        'validation_failed',
      ],
      [
        { householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: inDays(-1) },
        400,
        'validation_failed',
      ],
      [
        { householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: inDays(365 * 6) },
        400,
        'validation_failed',
      ],
      [
        { householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: '2027-02-30' },
        400,
        'validation_failed',
      ],
      [
        { householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: 'next year' },
        400,
        'validation_failed',
      ],
      [
        {
          householdId: m.id,
          cooperativeId: w.cooperativeId,
          expiresAt: inDays(30),
          formRef: 'F-1',
        },
        400,
        'validation_failed',
      ],
      [
        {
          householdId: m.id,
          cooperativeId: w.cooperativeId,
          expiresAt: inDays(30),
          customerRef: '=HYPERLINK("x")',
        },
        400,
        'validation_failed',
      ],
      [
        {
          householdId: m.id,
          cooperativeId: w.cooperativeId,
          expiresAt: inDays(30),
          purpose: '第一行\n第二行',
        },
        400,
        'validation_failed',
      ],
      [
        {
          householdId: m.id,
          cooperativeId: w.cooperativeId,
          expiresAt: inDays(30),
          status: 'active',
        },
        400,
        'validation_failed',
      ],
      [
        { householdId: m.id, cooperativeId: { $gt: '' }, expiresAt: inDays(30) },
        400,
        'validation_failed',
      ],
    ];
    for (const [body, status, code] of cases) {
      const res = await http().post('/v1/consents').set(m.login.auth).send(body);
      expect(res.status, JSON.stringify(body)).to.equal(status);
      expect(res.body.code).to.equal(code);
      expect(res.headers['content-type']).to.match(/problem\+json/);
    }
    for (const who of [w.officer, admin]) {
      const res = await http()
        .post('/v1/consents')
        .set(who.auth)
        .send({ householdId: m.id, cooperativeId: w.cooperativeId, expiresAt: inDays(30) });
      expect(res.status).to.equal(403);
    }
    await expectNothingStored(before, 'refused consents');
  });

  it('revoking is a record, not a delete, and revoking twice (even at once) changes nothing more', async () => {
    const m = await makeMember(w.villageId);
    const id = await consent(m, w.cooperativeId);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => http().delete(`/v1/consents/${id}`).set(m.login.auth)),
    );
    expect(results.map((r) => r.status)).to.deep.equal(Array(8).fill(200));
    expect(new Set(results.map((r) => r.body.revokedAt)).size).to.equal(1);
    const db = mongoose.connection.db!;
    expect(
      await db
        .collection('credit_consents')
        .countDocuments({ _id: new mongoose.Types.ObjectId(id) }),
    ).to.equal(1);
    expect(
      await db.collection('credit_consent_revocations').countDocuments({ _id: id as never }),
    ).to.equal(1);
    const got = await http().get(`/v1/consents/${id}`).set(m.login.auth);
    expect(got.body.status).to.equal('revoked');
  });

  it('who may see and withdraw a consent: the household, its clerk; the recipient officer sees but cannot withdraw; others get 404', async () => {
    const m = await makeMember(w.villageId);
    const id = await consent(m, w.cooperativeId);
    expect((await http().get(`/v1/consents/${id}`).set(w.officer.auth)).status).to.equal(200);
    expect((await http().delete(`/v1/consents/${id}`).set(w.officer.auth)).status).to.equal(403);
    const stranger = await makeMember((await makeVillage()).id);
    const otherCoop = await makeCooperative([w.villageId]);
    const otherOfficer = await makeUser('officer', { cooperativeId: otherCoop.id });
    for (const who of [stranger.login, otherOfficer]) {
      expect((await http().get(`/v1/consents/${id}`).set(who.auth)).status).to.equal(404);
    }
    expect((await http().delete(`/v1/consents/${id}`).set(stranger.login.auth)).status).to.equal(
      404,
    );
    expect((await http().delete(`/v1/consents/${id}`).set(w.clerk.auth)).status).to.equal(200);
  });

  it('the receipt is printable Chinese text naming the recipient, purpose, fields, expiry and the household’s rights', async () => {
    const m = await makeMember(w.villageId, '王建国');
    const id = await consent(m, w.cooperativeId, { customerRef: 'C-77' });
    const res = await http().get(`/v1/consents/${id}/receipt.txt`).set(m.login.auth);
    expect(res.status).to.equal(200);
    expect(res.headers['content-type']).to.match(/^text\/plain; charset=utf-8/);
    for (const s of [
      '授权回执',
      `回执编号：${id}`,
      '王建国',
      '信息接收方：农村信用合作社',
      '使用目的：农户信用评级及授信参考',
      '信用参考分、等级、主要原因',
      '客户编号：C-77',
      '有效期至：',
      '北京时间',
      '当前状态：有效',
      '随时撤回',
      '不使用民族、宗教、健康',
    ]) {
      expect(res.text).to.include(s);
    }
    await http().delete(`/v1/consents/${id}`).set(m.login.auth).expect(200);
    const after = await http().get(`/v1/consents/${id}/receipt.txt`).set(m.login.auth);
    expect(after.text).to.include('当前状态：已撤回');
    expect(
      (await http().get(`/v1/consents/${id}/receipt.txt`).set(w.officer.auth)).status,
    ).to.equal(403);
  });
});

describe('GET /v1/cooperatives/:id', () => {
  it('shows the service area to the county office and the cooperative’s own officers; 404 to others', async () => {
    const w = await makeCreditWorld();
    const other = await makeCooperative([w.villageId]);
    const otherOfficer = await makeUser('officer', { cooperativeId: other.id });
    const mine = await http().get(`/v1/cooperatives/${w.cooperativeId}`).set(w.officer.auth);
    expect(mine.status).to.equal(200);
    expect(mine.body).to.include({ id: w.cooperativeId });
    expect(mine.body.villageIds).to.deep.equal([w.villageId]);
    expect(mine.body.villages).to.deep.equal([{ id: w.villageId, name: '测试村' }]);
    expect(
      (
        await http()
          .get(`/v1/cooperatives/${w.cooperativeId}`)
          .set((await makeAdmin()).auth)
      ).status,
    ).to.equal(200);
    expect(
      (await http().get(`/v1/cooperatives/${w.cooperativeId}`).set(otherOfficer.auth)).status,
    ).to.equal(404);
    expect(
      (await http().get(`/v1/cooperatives/${w.cooperativeId}`).set(w.clerk.auth)).status,
    ).to.equal(403);
  });
});

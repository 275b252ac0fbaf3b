import { expect } from '../../support/expect';
import { http, makeUser, makeVillage } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { SubmissionEvent } from '../../../src/modules/submissions/submissions.model';
import { file, getSub, makeCouncilScene, voteVia } from './scene';

describe('POST /v1/users › a council member names their own household', () => {
  it('takes a household of the same village, refuses one of another village, and the member then cannot vote on it', async () => {
    const s = await makeCouncilScene();
    const other = await makeCouncilScene();
    const body = (householdId: string) => ({
      username: `c${Date.now()}${Math.random().toString(36).slice(2, 8)}`,
      password: 'a-long-password-1',
      role: 'council',
      villageId: s.villageId,
      householdId,
    });
    const ok = await http().post('/v1/users').set(s.clerk.auth).send(body(s.households[2]!.id));
    expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    expect(ok.body).to.include({ role: 'council', householdId: s.households[2]!.id });
    const bad = await http()
      .post('/v1/users')
      .set(s.admin.auth)
      .send(body(other.households[1]!.id));
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].path).to.equal('householdId');
    const token = await http()
      .post('/v1/auth/token')
      .send({ grantType: 'password', username: ok.body.username, password: 'a-long-password-1' });
    const member = { auth: { Authorization: `Bearer ${token.body.accessToken}` } };
    const sub = await file(s, { householdId: s.households[2]!.id });
    expect(
      (
        await http()
          .post(`/v1/submissions/${sub.id}/votes`)
          .set(member.auth)
          .send({ decision: 'approve' })
      ).status,
    ).to.equal(403);
  });
});

describe('POST /v1/submissions/:id/votes', () => {
  it('returns 403 forbidden to a council member of the subject household, and records nothing', async () => {
    const s = await makeCouncilScene();
    const sub = await file(s, { householdId: s.households[0]!.id });
    const before = await countAll();
    const res = await voteVia(sub.id, s.council[0]!);
    expect(res.status).to.equal(403);
    expect(res.body).to.include({ code: 'forbidden', reason: 'vote_on_own_household' });
    await expectNothingStored(before);
    // The same member votes on another household's submission.
    const other = await file(s);
    expect((await voteVia(other.id, s.council[0]!)).status).to.equal(200);
  });

  it('returns 409 conflict (reason vote_already_cast) to a second vote in the same round, whatever the decision', async () => {
    const s = await makeCouncilScene({ quorum: 3 });
    const sub = await file(s);
    expect((await voteVia(sub.id, s.council[1]!)).status).to.equal(200);
    const before = await countAll();
    for (const decision of ['approve', 'reject'] as const) {
      const again = await voteVia(sub.id, s.council[1]!, decision);
      expect(again.status).to.equal(409);
      expect(again.body).to.include({ code: 'conflict', reason: 'vote_already_cast' });
    }
    await expectNothingStored(before);
    expect((await getSub(s, sub.id)).approvals).to.equal(1);
  });

  it('accepts exactly one of 20 concurrent votes by one member', async () => {
    const s = await makeCouncilScene({ quorum: 3 });
    const sub = await file(s);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        voteVia(sub.id, s.council[1]!, i % 2 ? 'approve' : 'reject'),
      ),
    );
    expect(results.filter((r) => r.status === 200)).to.have.length(1);
    expect(results.filter((r) => r.status === 409)).to.have.length(19);
    expect(await SubmissionEvent.countDocuments({ submissionId: sub.id, type: 'vote' })).to.equal(
      1,
    );
  });

  it('returns 404 to a clerk or council member of another village, and to an unknown id', async () => {
    const s = await makeCouncilScene();
    const sub = await file(s);
    const elsewhere = await makeVillage();
    const otherCouncil = await makeUser('council', { villageId: elsewhere.id });
    const otherClerk = await makeUser('clerk', { villageId: elsewhere.id });
    const otherHousehold = (await makeCouncilScene()).households[1]!.user;
    const before = await countAll();
    for (const who of [otherCouncil, otherClerk, otherHousehold]) {
      const vote = await voteVia(sub.id, who);
      expect(vote.status, who.user.role).to.equal(404);
      expect(vote.body.code).to.equal('not_found');
      expect((await http().get(`/v1/submissions/${sub.id}`).set(who.auth)).status).to.equal(404);
      expect(
        (
          await http()
            .post(`/v1/submissions/${sub.id}/objections`)
            .set(who.auth)
            .send({ reason: '不实' })
        ).status,
      ).to.equal(404);
    }
    expect((await voteVia('0123456789abcdef01234567', s.council[1]!)).status).to.equal(404);
    await expectNothingStored(before);
  });

  it('returns 403 to the clerk, the household concerned and the admin: only council members vote', async () => {
    const s = await makeCouncilScene();
    const sub = await file(s);
    for (const who of [s.clerk, s.households[1]!.user, s.admin]) {
      const res = await voteVia(sub.id, who);
      expect(res.status, who.user.role).to.equal(403);
    }
  });

  it('opens exactly one notice when the whole council approves at once', async () => {
    const s = await makeCouncilScene({ quorum: 2, councilSize: 8 });
    const sub = await file(s);
    const results = await Promise.all(s.council.slice(1).map((m) => voteVia(sub.id, m)));
    // Votes that arrive after the quorum was reached find the submission in notice: 409.
    expect(results.every((r) => r.status === 200 || r.status === 409)).to.equal(true);
    expect(results.filter((r) => r.status === 200).length).to.be.at.least(2);
    expect(
      await SubmissionEvent.countDocuments({ submissionId: sub.id, type: 'notice_started' }),
    ).to.equal(1);
    const after = await getSub(s, sub.id);
    expect(after.status).to.equal('in_notice');
    expect(
      after.history.filter((h: { type: string }) => h.type === 'notice_started'),
    ).to.have.length(1);
  });

  it('rejects when a majority of the members entitled to vote reject, and refuses votes after that', async () => {
    // Five members; member 0 lives in the subject household, so four may vote: three is a majority.
    const s = await makeCouncilScene({ quorum: 3, councilSize: 5 });
    const sub = await file(s, { householdId: s.households[0]!.id });
    expect((await voteVia(sub.id, s.council[1]!, 'reject', '证据不足')).body.status).to.equal(
      'in_review',
    );
    expect((await voteVia(sub.id, s.council[2]!, 'reject')).body.status).to.equal('in_review');
    const third = await voteVia(sub.id, s.council[3]!, 'reject');
    expect(third.body).to.include({ status: 'rejected', rejections: 3 });
    expect((await voteVia(sub.id, s.council[4]!)).status).to.equal(409);
    const history = (await getSub(s, sub.id)).history;
    expect(history.find((h: { comment?: string }) => h.comment === '证据不足')).to.include({
      type: 'vote',
      decision: 'reject',
      by: s.council[1]!.user.id,
    });
  });

  it('refuses bad vote bodies with validation_failed and records nothing', async () => {
    const s = await makeCouncilScene();
    const sub = await file(s);
    const before = await countAll();
    for (const body of [
      {},
      { decision: 'maybe' },
      { decision: { $ne: null } },
      { decision: 'approve', extra: 1 },
      { decision: 'approve', comment: '' },
    ]) {
      const res = await http()
        .post(`/v1/submissions/${sub.id}/votes`)
        .set(s.council[1]!.auth)
        .send(body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.code).to.equal('validation_failed');
    }
    await expectNothingStored(before);
  });
});

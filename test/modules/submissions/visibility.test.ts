/**
 * S7: a household reads its own submissions; of its neighbours' only those in public notice
 * (公示) or posted, without the evidence attachments, the appeal, or who voted and how (counts
 * only). A neighbour's case under review or rejected is "not found", in lists and by id, and
 * so is any action on it.
 */
import { expect } from '../../support/expect';
import { http } from '../../support/factories';
import {
  approve,
  file,
  getSub,
  makeCouncilScene,
  makeRule,
  resetClock,
  shiftClock,
  voteVia,
  type CouncilScene,
  type Json,
} from './scene';

const list = async (who: { auth: { Authorization: string } }, query = '') => {
  const res = await http().get(`/v1/submissions${query}`).set(who.auth);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.items as Json[];
};

describe('S7 what a household sees of submissions', () => {
  let s: CouncilScene;
  const subs: Record<'inReview' | 'inNotice' | 'rejected' | 'posted', Json> = {} as never;
  /** The household concerned, and a neighbour. */
  let own: CouncilScene['households'][number];
  let neighbour: CouncilScene['households'][number];

  before(async () => {
    s = await makeCouncilScene({ quorum: 2, noticePeriod: 'P7D' });
    own = s.households[1]!;
    neighbour = s.households[2]!;
    const rule = await makeRule({ kind: 'deduction', points: 10, title: '赌博' });
    const filing = {
      householdId: own.id,
      ruleCode: rule.code,
      evidence: { text: '村民举报，村委核实', attachments: ['photo-2026-0001.jpg'] },
    };
    subs.posted = await file(s, filing);
    await approve(s, subs.posted.id, 2);
    subs.inReview = await file(s, filing);
    await voteVia(subs.inReview.id, s.council[1]!, 'approve', '证据充分');
    subs.inNotice = await file(s, filing);
    await approve(s, subs.inNotice.id, 2);
    subs.rejected = await file(s, filing);
    for (const m of [s.council[1]!, s.council[2]!])
      expect((await voteVia(subs.rejected.id, m, 'reject')).status).to.equal(200);
    // The first one's notice ends: it posts.
    shiftClock(8 * 24 * 3600_000);
    expect((await getSub(s, subs.posted.id)).status).to.equal('posted');
    resetClock();
  });

  it('a neighbour lists only the submissions in public notice or posted, never those in review or rejected', async () => {
    const ids = (await list(neighbour.user)).map((i) => i.id);
    expect(ids).to.include.members([subs.inNotice.id, subs.posted.id]);
    expect(ids).to.not.include(subs.inReview.id);
    expect(ids).to.not.include(subs.rejected.id);
    expect(await list(neighbour.user, '?status=in_review')).to.deep.equal([]);
    expect(await list(neighbour.user, '?status=rejected')).to.deep.equal([]);
    expect(
      (await list(neighbour.user, `?householdId=${own.id}`)).map((i) => i.id).sort(),
    ).to.deep.equal([subs.inNotice.id, subs.posted.id].sort());
  });

  it('a neighbour gets 404 for a case in review or rejected, by id and for every action on it', async () => {
    for (const sub of [subs.inReview, subs.rejected]) {
      for (const [method, path, body] of [
        ['get', `/v1/submissions/${sub.id}`, undefined],
        ['post', `/v1/submissions/${sub.id}/votes`, { decision: 'approve' }],
        ['post', `/v1/submissions/${sub.id}/objections`, { reason: '不属实' }],
        ['post', `/v1/submissions/${sub.id}/appeals`, { reason: '不属实' }],
      ] as const) {
        const req = http()[method](path).set(neighbour.user.auth);
        const res = body ? await req.send(body) : await req;
        expect(res.status, `${method} ${path}: ${JSON.stringify(res.body)}`).to.equal(404);
        expect(res.body.code).to.equal('not_found');
      }
    }
  });

  it('a neighbour reads a case in public notice without attachments, appeal or who voted and how: counts only', async () => {
    for (const sub of [subs.inNotice, subs.posted]) {
      const seen = await getSub(s, sub.id, neighbour.user);
      expect(seen.evidence).to.deep.equal({ text: '村民举报，村委核实', attachments: [] });
      expect(seen.approvals).to.equal(2);
      expect(seen.history.map((h: Json) => h.type)).to.not.include('vote');
      for (const h of seen.history as Json[])
        expect(h).to.have.keys(h.round === undefined ? ['type', 'at'] : ['type', 'at', 'round']);
      expect(seen.appeal ?? null).to.equal(null);
      const text = JSON.stringify(seen);
      for (const m of s.council) expect(text).to.not.contain(m.user.id);
      expect(text).to.not.contain('证据充分');
    }
    const listed = (await list(neighbour.user)).find((i) => i.id === subs.inNotice.id)!;
    expect(listed.evidence.attachments).to.deep.equal([]);
  });

  it('the household concerned reads its own submissions whole, in every status', async () => {
    const ids = (await list(own.user)).map((i) => i.id);
    expect(ids).to.include.members(Object.values(subs).map((x) => x.id));
    const inReview = await getSub(s, subs.inReview.id, own.user);
    expect(inReview.evidence.attachments).to.deep.equal(['photo-2026-0001.jpg']);
    const inNotice = await getSub(s, subs.inNotice.id, own.user);
    expect(inNotice.history.filter((h: Json) => h.type === 'vote')).to.have.length(2);
  });

  it('the clerk and the council still read every case of their village whole', async () => {
    for (const who of [s.clerk, s.council[2]!]) {
      const seen = await getSub(s, subs.inReview.id, who);
      expect(seen.evidence.attachments).to.deep.equal(['photo-2026-0001.jpg']);
      expect(seen.history.find((h: Json) => h.type === 'vote')).to.include({
        by: s.council[1]!.user.id,
        comment: '证据充分',
      });
    }
  });
});

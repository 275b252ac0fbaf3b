import { expect } from '../../support/expect';
import { http, verifyChainViaApi } from '../../support/factories';
import type { RunningWorkers } from '../../../workers/runner';
import {
  approve,
  entriesOf,
  eventually,
  file,
  getSub,
  makeCouncilScene,
  startCouncilWorkers,
  voteVia,
} from './scene';

describe('submission → quorum → notice → posted', () => {
  let workers: RunningWorkers | undefined;
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
  });

  it('posts exactly one ledger entry once a one-second notice ends, and shows every step in the history', async () => {
    workers = await startCouncilWorkers();
    const s = await makeCouncilScene({ quorum: 2, noticePeriod: 'PT1S' });
    const filed = await file(s);
    expect(filed).to.include({ status: 'in_review', points: 10 });
    const first = await voteVia(filed.id, s.council[1]!);
    expect(first.status).to.equal(200);
    expect(first.body).to.include({ status: 'in_review', approvals: 1 });
    const second = await approve(s, filed.id, 0).then(() => voteVia(filed.id, s.council[2]!));
    expect(second.status, JSON.stringify(second.body)).to.equal(200);
    expect(second.body.status).to.equal('in_notice');
    const noticeEndsAt = new Date(second.body.noticeEndsAt).getTime();
    const posted = await eventually(async () => {
      const sub = await getSub(s, filed.id);
      return sub.status === 'posted' ? sub : undefined;
    }, 'posted');
    const lagMs = new Date(posted.postedAt).getTime() - noticeEndsAt;
    process.stdout.write(`      (posted ${lagMs} ms after noticeEndsAt)\n`);
    expect(lagMs).to.be.at.least(0);
    const entries = await entriesOf(filed.id);
    expect(entries).to.have.length(1);
    expect(entries[0]).to.include({
      type: 'award',
      points: 10,
      spendableDelta: 10,
      meritDelta: 10,
      ruleCode: s.rule.code,
    });
    expect(posted.history.map((h: { type: string }) => h.type)).to.deep.equal([
      'filed',
      'vote',
      'vote',
      'notice_started',
      'notice_ended',
      'posted',
    ]);
    await verifyChainViaApi(s.households[1]!.id, s.admin.auth);
    const list = await http()
      .get(`/v1/submissions?villageId=${s.villageId}&status=posted`)
      .set(s.clerk.auth);
    expect(list.status).to.equal(200);
    expect(list.body.items.map((i: { id: string }) => i.id)).to.include(filed.id);
  });
});

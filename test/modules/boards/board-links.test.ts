/**
 * Board links (大屏链接): a station screen reads its village's boards with a revocable link
 * instead of a person's 15-minute session (BL1–BL3 in board-links.service.ts).
 */
import { createHash } from 'node:crypto';
import mongoose from 'mongoose';
import { expect } from '../../support/expect';
import { http, makeUser, makeVillage, unique } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { approve, file, makeCouncilScene, type CouncilScene } from '../submissions/scene';

const display = (secret: string | undefined, month: string) => {
  const req = http().get(`/v1/board-display?month=${month}`);
  return secret === undefined ? req : req.set('Board-Link', secret);
};
const createVia = (s: CouncilScene, label: string, who = s.clerk) =>
  http().post(`/v1/villages/${s.villageId}/board-links`).set(who.auth).send({ label });

async function postedScene() {
  const s = await makeCouncilScene({ quorum: 1, noticePeriod: 'PT0S', rule: { points: 10 } });
  const posted = await approve(s, (await file(s, { householdId: s.households[1]!.id })).id, 1);
  expect(posted.status).to.equal('posted');
  return { s, month: (posted.postedAt as string).slice(0, 7) };
}

describe('board links (大屏链接) and GET /v1/board-display', () => {
  it('shows a screen its village’s boards with no sign-in, the same lists a signed-in clerk sees; the secret is shown once and only its hash is stored', async () => {
    const { s, month } = await postedScene();
    const made = await createVia(s, '村部大厅');
    expect(made.status, JSON.stringify(made.body)).to.equal(201);
    expect(made.body).to.include({ villageId: s.villageId, label: '村部大厅', revokedAt: null });
    const secret = made.body.secret as string;
    expect(secret).to.match(/^[A-Za-z0-9_-]{43}$/);

    const screen = await display(secret, month);
    expect(screen.status, JSON.stringify(screen.body)).to.equal(200);
    const signedIn = await http()
      .get(`/v1/villages/${s.villageId}/boards?month=${month}`)
      .set(s.clerk.auth);
    expect(screen.body).to.deep.include({ red: signedIn.body.red, black: signedIn.body.black });
    expect(screen.body).to.include({ villageId: s.villageId, label: '村部大厅', month });
    expect(screen.body.villageName).to.be.a('string').and.not.equal('');
    expect(screen.body.red).to.have.length(1);
    expect(screen.body.red[0].name).to.equal('李*');

    const stored = await mongoose.connection.db!.collection('board_links').find({}).toArray();
    const mine = stored.find((d) => d.linkId === made.body.id)!;
    expect(mine._id).to.equal(createHash('sha256').update(secret).digest('hex'));
    expect(JSON.stringify(stored)).not.to.contain(secret);
    const listed = await http().get(`/v1/villages/${s.villageId}/board-links`).set(s.clerk.auth);
    expect(listed.status).to.equal(200);
    expect(listed.body.items.map((l: { id: string }) => l.id)).to.deep.equal([made.body.id]);
    expect(JSON.stringify(listed.body)).not.to.contain(secret);
  });

  it('stops a revoked link at its next request; revoking again changes nothing', async () => {
    const { s, month } = await postedScene();
    const a = (await createVia(s, '村部大厅')).body;
    const b = (await createVia(s, '文化广场')).body;
    expect((await display(a.secret, month)).status).to.equal(200);
    const revoked = await http()
      .post(`/v1/villages/${s.villageId}/board-links/${a.id}/revocation`)
      .set(s.clerk.auth);
    expect(revoked.status, JSON.stringify(revoked.body)).to.equal(200);
    expect(revoked.body.revokedAt).to.be.a('string');
    const refused = await display(a.secret, month);
    expect(refused.status).to.equal(401);
    expect(refused.body).to.include({ code: 'unauthenticated', reason: 'board_link_invalid' });
    expect(refused.headers['content-type']).to.match(/^application\/problem\+json/);
    // The other screen keeps working.
    expect((await display(b.secret, month)).status).to.equal(200);
    const again = await http()
      .post(`/v1/villages/${s.villageId}/board-links/${a.id}/revocation`)
      .set(s.admin.auth);
    expect(again.status).to.equal(200);
    expect(again.body.revokedAt).to.equal(revoked.body.revokedAt);
    const listed = await http().get(`/v1/villages/${s.villageId}/board-links`).set(s.clerk.auth);
    expect(
      listed.body.items.map((l: { label: string; revokedAt: string | null }) => [
        l.label,
        l.revokedAt !== null,
      ]),
    ).to.deep.equal([
      ['文化广场', false],
      ['村部大厅', true],
    ]);
  });

  it('opens nothing without a valid link, and never takes the secret from the URL', async () => {
    const { s, month } = await postedScene();
    const { secret } = (await createVia(s, '村部大厅')).body;
    const before = await countAll();
    for (const given of [undefined, '', 'x', 'A'.repeat(43), `${secret}x`, secret.slice(1)]) {
      const res = await display(given, month);
      expect(res.status, String(given)).to.equal(401);
      expect(res.body.reason, String(given)).to.equal('board_link_invalid');
    }
    // A secret in the query string (it would reach access logs) is an unknown field, not a key.
    const inUrl = await http().get(`/v1/board-display?month=${month}&link=${secret}`);
    expect(inUrl.status).to.equal(400);
    expect((await display(secret, '2026-13')).status).to.equal(400);
    await expectNothingStored(before);
  });

  it('lets the village’s clerk, its township station and the county office manage links; nobody else, and no other village', async () => {
    const { s } = await postedScene();
    const village = await mongoose.connection
      .db!.collection('villages')
      .findOne({ _id: new mongoose.Types.ObjectId(s.villageId) });
    const township = await makeUser('township', { townshipId: String(village!.townshipId) });
    expect((await createVia(s, '镇上代建', township)).status).to.equal(201);
    expect((await createVia(s, '县里代建', s.admin)).status).to.equal(201);
    const link = (await createVia(s, '村部大厅')).body;

    const other = await makeVillage({ township: unique('镇') });
    const strangers = {
      otherClerk: await makeUser('clerk', { villageId: other.id }),
      otherTownship: await makeUser('township', { townshipId: other.townshipId! }),
    };
    const before = await countAll();
    for (const [who, u] of Object.entries(strangers)) {
      expect((await createVia(s, '越权', u)).status, who).to.equal(404);
      const list = await http().get(`/v1/villages/${s.villageId}/board-links`).set(u.auth);
      expect(list.status, who).to.equal(404);
      const revoke = await http()
        .post(`/v1/villages/${s.villageId}/board-links/${link.id}/revocation`)
        .set(u.auth);
      expect(revoke.status, who).to.equal(404);
    }
    for (const [who, u] of [
      ['council', s.council[0]!],
      ['household', s.households[1]!.user],
    ] as const) {
      expect((await createVia(s, '越权', u)).status, who).to.equal(403);
    }
    // A link is revoked under its own village only.
    const otherClerkLink = await http()
      .post(`/v1/villages/${other.id}/board-links/${link.id}/revocation`)
      .set(strangers.otherClerk.auth);
    expect(otherClerkLink.status).to.equal(404);
    // The label is text under the policy: no bidi controls, not empty, not too long.
    for (const label of ['', '大厅\u202e', '屏'.repeat(41)]) {
      const res = await createVia(s, label);
      expect(res.status, JSON.stringify(label)).to.equal(400);
      expect(res.body.errors[0].path).to.equal('label');
    }
    await expectNothingStored(before);
    const { month } = { month: new Date().toISOString().slice(0, 7) };
    expect((await display(link.secret, month)).status).to.equal(200);
  });
});

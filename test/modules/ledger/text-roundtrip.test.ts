/**
 * I4 under real text: every kind of entry, written with Chinese (incl. astral extension B),
 * emoji (ZWJ sequences, flags, keycaps), combining marks and text at its maximum length, reads
 * back through GET /v1/households/:id/entries exactly as it was hashed, and every hash
 * recomputes from the entries endpoint alone. What the service cuts (a redemption's reason
 * built from item names) is cut between whole characters.
 */
import { AssertionError } from 'node:assert';
import { expect } from '../../support/expect';
import { http, makeHousehold, makeVillage, verifyChainViaApi } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { codePoints, textOfLength } from '../../support/random-text';
import { postEntry, verifyChain } from '../../../src/modules/ledger/ledger.service';
import { Entry } from '../../../src/modules/ledger/ledger.model';
import {
  RECOVERY_AGE_MS,
  recoverRedemptions,
} from '../../../src/modules/redemption/redemption.service';
import {
  adjustVia,
  appealAndUphold,
  basketText,
  fileAndPost,
  makeItemVia,
  makeRuleVia,
  makeTextScene,
  redeemVia,
  reverseVia,
  shanghaiToday,
  type Json,
} from './text-scene';
import { redemptionFaults, redemptionTuning } from '../../../src/platform/faults';

/** Pieces NFC leaves alone, and a decomposed é that NFC composes (sent decomposed, stored composed). */
const PIECES = ['👨‍👩‍👧‍👦', '中', 'q\u0307\u0323', '🇨🇳', 'e\u0301', '𠀀', '❤️', '1️⃣', '🧑🏿‍🌾', '文'];
const nfc = (s: string) => s.normalize('NFC');
/** Text of exactly `n` code points after NFC, cycling through PIECES. */
const maxText = (n: number) =>
  textOfLength(
    Array.from({ length: n }, (_, i) => PIECES[i % PIECES.length]!),
    n,
  );

const segmenter = new Intl.Segmenter('zh', { granularity: 'grapheme' });

/** True when `cut` is `full` cut between two grapheme clusters and marked with "…". */
function cutBetweenGraphemes(full: string, cut: string): boolean {
  if (!cut.endsWith('…')) return false;
  const kept = cut.slice(0, -1);
  let at = 0;
  for (const { segment } of segmenter.segment(full)) {
    if (at === kept.length) break;
    at += segment.length;
  }
  return at === kept.length && full.startsWith(kept);
}

describe('I4 / T3 entry text reads back exactly as hashed', () => {
  afterEach(() => {
    delete redemptionFaults.after;
    redemptionTuning.staleAfterMs = RECOVERY_AGE_MS;
  });

  it('award and deduction via the council, appeal reversal, redemption, its reversal, an adjustment and an interrupted redemption (void), with CJK, emoji ZWJ sequences, combining marks and maximum-length text: every entry reads back through GET /v1/households/:id/entries as stored and every hash recomputes', async () => {
    const s = await makeTextScene(1);
    const h = s.households[0]!;
    const expected = new Map<string, string>(); // `${sourceType}:${sourceId}` → reason

    // An adjustment whose reason is 500 code points (more than 500 UTF-16 units), sent with a
    // decomposed é and surrounding spaces: stored trimmed and NFC.
    const reason500 = maxText(500);
    expect(reason500.length).to.be.greaterThan(500);
    const adj = await adjustVia(s, h.id, `  ${reason500} `, 1000);
    expect(adj.status, JSON.stringify(adj.body)).to.equal(201);
    expect(adj.body.reason).to.equal(nfc(reason500));
    expected.set(`adjustment:${adj.body.sourceId}`, nfc(reason500));

    // Council: rule titles of 100 code points become the entries' reasons; evidence keeps its lines.
    const awardTitle = maxText(100);
    const deductionTitle = `扣分${maxText(98)}`;
    const award = await fileAndPost(
      s,
      await makeRuleVia(s, awardTitle, 'award', 10),
      h.id,
      '第一行\r\n第二行 👨‍👩‍👧‍👦\n第三行',
    );
    expect(award.evidence.text).to.equal('第一行\n第二行 👨‍👩‍👧‍👦\n第三行');
    expected.set(`submission:${award.id}`, `${nfc(awardTitle)}（${shanghaiToday()}）`);
    const deduction = await fileAndPost(
      s,
      await makeRuleVia(s, deductionTitle, 'deduction', 5),
      h.id,
    );
    expected.set(`submission:${deduction.id}`, `${nfc(deductionTitle)}（${shanghaiToday()}）`);
    const appeal = await appealAndUphold(s, deduction.id, h);
    expected.set(`appeal:${appeal.id}`, `申诉成立，撤销扣分：${nfc(deductionTitle)}`);

    // A basket of three 64-code-point emoji names, three of each: its reason is longer than 200
    // code points and is cut (the old cut at 199 UTF-16 units split a surrogate pair).
    const names = [0, 1, 2].map((i) => `${i}${'👨‍👩‍👧‍👦'.repeat(9)}`);
    for (const n of names) expect(codePoints(n)).to.equal(64);
    const skus: string[] = [];
    for (const n of names) skus.push(await makeItemVia(s, n, 1));
    const redeemed = await redeemVia(
      s,
      h.cardNo,
      skus.map((sku) => ({ sku, qty: 3 })),
    );
    const reversed = await reverseVia(s, redeemed.id);
    expected.set(`reversal:${redeemed.id}`, `撤销兑换（凭条 ${reversed.receiptNo}）`);

    // An interrupted redemption: recovery rolls it back with a 0-point void entry.
    redemptionFaults.after = (step) => {
      if (step === 'recorded') throw new Error('injected crash after recorded');
    };
    const crashed = await http()
      .post('/v1/redemptions')
      .set(s.terminal.auth)
      .set('Idempotency-Key', `void-${h.id}`)
      .send({ cardNo: h.cardNo, items: [{ sku: skus[0], qty: 1 }] });
    expect(crashed.status).to.equal(500);
    delete redemptionFaults.after;
    expect((await recoverRedemptions(0)).errors).to.equal(0);

    // Read back as the household itself, and recompute every hash from what the endpoint returns.
    const entries = (await verifyChainViaApi(h.id, h.user.auth)) as Json[];
    expect(entries.map((e) => e.type)).to.deep.equal([
      'adjustment',
      'award',
      'deduction',
      'reversal',
      'redemption',
      'reversal',
      'redemption',
    ]);
    const stored = await Entry.find({ householdId: h.id }).lean();
    for (const e of entries) {
      expect(stored.find((d) => d.seq === e.seq)?.reason, `stored reason of seq ${e.seq}`).to.equal(
        e.reason,
      );
      expect(/\p{Cs}/u.test(e.reason as string), `seq ${e.seq} has a lone surrogate`).to.equal(
        false,
      );
      const want = expected.get(`${e.sourceType}:${e.sourceId}`);
      if (want !== undefined) expect(e.reason, `reason of seq ${e.seq} (${e.type})`).to.equal(want);
    }
    // sourceId is an opaque record id (a batch line or an appeal adds a suffix), never a user id or a key.
    const people = [s.admin, s.clerk, s.council, h.user]
      .map((u) => u.user.id)
      .concat(s.terminal.id);
    for (const e of entries) {
      expect(e.sourceId, `sourceId of seq ${e.seq}`).to.match(/^[a-f0-9]{24}(:[a-z0-9]+)?$/);
      for (const id of people) expect(e.sourceId).to.not.contain(id);
    }
    const [spent, voided] = entries.filter((e) => e.type === 'redemption');
    const full = basketText(names.map((name) => ({ name, qty: 3 })));
    expect(codePoints(spent!.reason)).to.be.at.most(200);
    expect(
      cutBetweenGraphemes(full, spent!.reason),
      `cut between graphemes: ${spent!.reason}`,
    ).to.equal(true);
    expect(voided).to.include({ points: 0, reason: '兑换中断，未扣积分' });
    expect(await verifyChain(h.id)).to.equal(undefined);
  });

  it('postEntry refuses (asserts) text the database would not return unchanged, and stores nothing', async () => {
    const h = await makeHousehold((await makeVillage()).id);
    const before = await countAll();
    for (const [field, value] of [
      ['reason', 'lone \ud800 surrogate'],
      ['reason', 'NUL\u0000'],
      ['sourceId', 'x\udc00'],
    ] as const) {
      const input = {
        householdId: h.id,
        type: 'adjustment' as const,
        points: 5,
        spendableDelta: 5,
        meritDelta: 5,
        shortfall: 'clamp' as const,
        source: { type: 'adjustment', id: field === 'sourceId' ? value : `t-${h.id}` },
        reason: field === 'reason' ? value : '测试',
      };
      let thrown: unknown;
      await postEntry(input).catch((err: unknown) => (thrown = err));
      expect(thrown, `${field} ${JSON.stringify(value)}`).to.be.instanceOf(AssertionError);
    }
    await expectNothingStored(before);
  });
});

/**
 * Issue 8's "done when" for hostile text: 1,000 entries whose text is random (seeded) strings of
 * Chinese (incl. astral), emoji (ZWJ sequences, flags, keycaps), combining marks, decomposed
 * Hangul and compatibility ideographs, at and around the edge of every length limit, through
 * every path that writes text into an entry: adjustments (reason, 500), council postings and
 * appeal reversals (rule title, 100), redemptions (item names, 64; the reason is cut at 200) and
 * their reversals. Afterwards every chain verifies from GET /v1/households/:id/entries alone,
 * and every entry's text is exactly what was sent (trimmed, NFC) or its whole-character cut.
 * Text one character over a limit is refused with 400 naming the field, and stores nothing.
 *
 * `MSL_TEXT_TEST_ENTRIES=200 npx mocha test/modules/ledger/random-text.test.ts` runs it smaller.
 */
import { expect } from '../../support/expect';
import { http, verifyChainViaApi } from '../../support/factories';
import { countAll, expectNothingStored } from '../../support/snapshot';
import { codePoints, samples, stored, textOf, textWithin } from '../../support/random-text';
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
  type TextScene,
} from './text-scene';

const SEED = 20_261_126;
const ENTRIES = Number(process.env.MSL_TEXT_TEST_ENTRIES ?? 1000);
const HOUSEHOLDS = 8;
/** Requests in flight at once (different households' chains proceed side by side). */
const PARALLEL = 4;
const LIMITS = { reason: 500, title: 100, itemName: 64, entryReason: 200 } as const;

/** A small seeded generator for choices and amounts (the strings come from fast-check's seed). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function inPool<T>(
  items: readonly T[],
  fn: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
}

const segmenter = new Intl.Segmenter('zh', { granularity: 'grapheme' });

/** `cut` is `full` cut between grapheme clusters, marked "…", within the entry reason limit. */
function isWholeCharacterCut(full: string, cut: string): boolean {
  if (!cut.endsWith('…') || codePoints(cut) > LIMITS.entryReason) return false;
  const kept = cut.slice(0, -1);
  let at = 0;
  for (const { segment } of segmenter.segment(full)) {
    if (at + segment.length > kept.length) break;
    at += segment.length;
  }
  // Cut at a cluster boundary, and no further cluster would have fitted.
  return at === kept.length && full.startsWith(kept);
}

describe(`T1–T3, I4 ${ENTRIES} entries of random text through every path that writes text into an entry`, function () {
  this.timeout(600_000);

  // Shares of the entries by path (they add up to 1,000 at full size). A council posting or a
  // redemption reads whole collections on FerretDB-SQLite (events, users, items), so it costs
  // many times an adjustment once the suite's database is full; each path still gets dozens of
  // random texts at and around its limits.
  const share = (n: number) => Math.round((n * ENTRIES) / 1000);
  const counts = {
    adjustments: share(780),
    awards: share(60),
    deductions: share(25),
    appeals: share(10),
    redemptions: share(95),
    reversals: share(30),
  };
  const total = Object.values(counts).reduce((a, b) => a + b, 0);

  let s: TextScene;
  /** `${sourceType}:${sourceId}` → what the entry's reason must be, or a check for cut reasons. */
  const expected = new Map<string, string | ((reason: string) => boolean)>();

  before(async () => {
    s = await makeTextScene(HOUSEHOLDS);
  });

  it('posts them all through the API, refusing text one character over a limit with 400 naming the field (nothing stored)', async () => {
    const random = prng(SEED);
    const household = (i: number) => s.households[i % HOUSEHOLDS]!;

    // One character over each limit: refused, nothing stored.
    const before = await countAll();
    for (const reason of samples(textOf(LIMITS.reason + 1), 5, SEED)) {
      const res = await adjustVia(s, household(0).id, reason, 1);
      expect([res.status, res.body.errors?.[0]?.path], JSON.stringify(res.body)).to.deep.equal([
        400,
        'reason',
      ]);
    }
    for (const title of samples(textOf(LIMITS.title + 1), 5, SEED + 1)) {
      const res = await http()
        .post('/v1/rules')
        .set(s.admin.auth)
        .send({ code: `X${codePoints(title)}`, title, kind: 'award', points: 1 });
      expect([res.status, res.body.errors?.[0]?.path]).to.deep.equal([400, 'title']);
    }
    for (const name of samples(textOf(LIMITS.itemName + 1), 5, SEED + 2)) {
      const res = await http()
        .post(`/v1/stores/${s.storeId}/items`)
        .set(s.admin.auth)
        .send({ sku: 'OVER', name, points: 1, stock: 1 });
      expect([res.status, res.body.errors?.[0]?.path]).to.deep.equal([400, 'name']);
    }
    await expectNothingStored(before, 'over-limit text');

    // Adjustments: the reason is the text. Mostly awards (they fund the redemptions below).
    const reasons = samples(textWithin(LIMITS.reason), counts.adjustments, SEED + 3);
    const amounts = reasons.map(() =>
      random() < 0.1 ? -1 - Math.floor(random() * 50) : 200 + Math.floor(random() * 800),
    );
    await inPool(reasons, async (reason, i) => {
      const res = await adjustVia(s, household(i).id, reason, amounts[i]!);
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expected.set(`adjustment:${res.body.sourceId}`, stored(reason));
    });

    // Council postings: one rule per title; the entry's reason is the title and the date.
    const titles = samples(textWithin(LIMITS.title), counts.awards + counts.deductions, SEED + 4);
    const deductions: { id: string; title: string; household: TextScene['households'][number] }[] =
      [];
    await inPool(titles, async (title, i) => {
      const kind = i < counts.awards ? 'award' : 'deduction';
      const code = await makeRuleVia(s, title, kind, 1 + (i % 20));
      const sub = await fileAndPost(s, code, household(i).id);
      expected.set(`submission:${sub.id}`, `${stored(title)}（${shanghaiToday()}）`);
      if (kind === 'deduction') deductions.push({ id: sub.id, title, household: household(i) });
    });
    // Appeals upheld: a reversal entry whose reason carries the deduction's title.
    await inPool(deductions.slice(0, counts.appeals), async (d) => {
      const appeal = await appealAndUphold(s, d.id, d.household);
      expected.set(`appeal:${appeal.id}`, `申诉成立，撤销扣分：${stored(d.title)}`);
    });

    // Redemptions: the reason is built from the item names (and cut at 200 between whole
    // characters); every third one is reversed at the counter right away.
    const names = samples(textWithin(LIMITS.itemName), 60, SEED + 5);
    const skus: string[] = [];
    for (const [i, name] of names.entries()) skus.push(await makeItemVia(s, name, 1 + (i % 5)));
    const baskets = Array.from({ length: counts.redemptions }, () =>
      Array.from({ length: 1 + Math.floor(random() * 4) }, () => ({
        sku: skus[Math.floor(random() * skus.length)]!,
        qty: 1 + Math.floor(random() * 3),
      })),
    );
    let reversed = 0;
    await inPool(baskets, async (items, i) => {
      const r = await redeemVia(s, household(i).cardNo, items);
      const full = basketText(r.items as { name: string; qty: number }[]);
      expected.set(
        `redemption:${r.id}`,
        codePoints(full) <= LIMITS.entryReason
          ? full
          : (reason) => isWholeCharacterCut(full, reason),
      );
      if (reversed < counts.reversals && i % 3 === 0) {
        reversed++;
        const back = await reverseVia(s, r.id);
        expected.set(`reversal:${r.id}`, `撤销兑换（凭条 ${back.receiptNo}）`);
      }
    });
    expect(expected.size).to.equal(total);
  });

  it('every chain verifies from the entries endpoint alone, and every entry carries exactly its text', async () => {
    let entries = 0;
    const wrong: string[] = [];
    for (const h of s.households) {
      const chain = (await verifyChainViaApi(h.id, h.user.auth)) as Json[];
      entries += chain.length;
      for (const e of chain) {
        const want = expected.get(`${e.sourceType}:${e.sourceId}`);
        const ok = typeof want === 'function' ? want(e.reason) : e.reason === want;
        if (!ok)
          wrong.push(
            `${h.id} seq ${e.seq} ${e.type}: ${JSON.stringify(e.reason)} (want ${typeof want === 'string' ? JSON.stringify(want) : String(want)})`,
          );
      }
    }
    expect(wrong, wrong.slice(0, 10).join('\n')).to.deep.equal([]);
    expect(entries).to.equal(total);
  });
});

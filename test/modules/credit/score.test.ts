/**
 * The pure score (src/modules/credit/credit.score.ts), without a database: table tests for each
 * rule of model v1 and fast-check properties over random histories for monotonicity, range,
 * reproducibility and "spending never lowers the score".
 */
import fc from 'fast-check';
import { expect } from '../../support/expect';
import {
  computeScore,
  gradeOf,
  MODEL_V1,
  villageFactor,
  type ScoreEntry,
  type ScoreInput,
  type VillageLevel,
} from '../../../src/modules/credit/credit.score';

const DAY = 86_400_000;
const AS_OF = new Date('2026-06-15T00:00:00.000Z');
const daysAgo = (d: number) => AS_OF.getTime() - d * DAY;
const NO_VILLAGE: VillageLevel = { otherHouseholds: 0, otherAwardPoints: 0 };
const award = (points: number, ago: number, ruleCode = 'volunteer-hour'): ScoreEntry => ({
  type: 'award',
  meritDelta: points,
  createdAt: daysAgo(ago),
  ruleCode,
});
const deduction = (points: number, ago: number): ScoreEntry => ({
  type: 'deduction',
  meritDelta: -points,
  createdAt: daysAgo(ago),
  ruleCode: 'gambling',
});
const score = (entries: ScoreEntry[], village = NO_VILLAGE, asOf = AS_OF) =>
  computeScore({ asOf, entries, village });
const impact = (r: ReturnType<typeof score>, code: string) =>
  r.reasons.find((x) => x.code === code)?.impact;

describe('credit score model v1 (pure)', () => {
  it('a household with nothing on record gets the base 500 (中等) and one NO_HISTORY reason', () => {
    const r = score([]);
    expect(r).to.deep.equal({
      score: 500,
      grade: '中等',
      modelVersion: 'msl-credit-v1',
      reasons: [{ code: 'NO_HISTORY', impact: 0, text: '暂无计入的积分记录，按基准分计算' }],
    });
  });

  it('entries posted after asOf do not count', () => {
    expect(score([award(50, -1), deduction(30, -0.001)])).to.deep.equal(score([]));
  });

  it('spending (redemption, expiry) never changes the score, whatever merit it carries', () => {
    const base = [award(40, 30), award(20, 200)];
    const spent = [
      ...base,
      { type: 'redemption', meritDelta: 0, createdAt: daysAgo(10) } as ScoreEntry,
      { type: 'expiry', meritDelta: -60, createdAt: daysAgo(5) } as ScoreEntry,
    ];
    expect(score(spent)).to.deep.equal(score(base));
  });

  it('recent merit counts more than the same merit long ago (one-year half-life)', () => {
    expect(score([award(60, 10)]).score).to.be.greaterThan(score([award(60, 800)]).score);
  });

  it('steady volunteering over twelve months beats the same points in one burst', () => {
    const steady = Array.from({ length: 12 }, (_, i) => award(10, 15 + i * 30));
    const burst = Array.from({ length: 12 }, () => award(10, 15));
    const s = score(steady);
    const b = score(burst);
    expect(impact(s, 'STEADY_PARTICIPATION')).to.be.greaterThan(impact(b, 'STEADY_PARTICIPATION')!);
    expect(s.score).to.be.greaterThan(b.score);
  });

  it('honours (最美家庭, 星级文明户) count beyond their points', () => {
    const honour = score([award(30, 20, 'best-family')]);
    const plain = score([award(30, 20, 'environment')]);
    expect(impact(honour, 'HONOURS')).to.be.greaterThan(0);
    expect(honour.score).to.be.greaterThan(plain.score);
  });

  it('a deduction weighs more than an award of the same size', () => {
    const up = score([award(30, 10)]).score - 500;
    const down = 500 - score([deduction(30, 10)]).score;
    expect(down).to.be.greaterThan(up);
  });

  it('deductions fade slower than awards', () => {
    const awardKept =
      (score([award(30, 700)]).score - 500 - 40) /* clean record */ /
      (score([award(30, 1)]).score - 500 - 40);
    const dedKept =
      (500 - score([deduction(30, 700)]).score) / (500 - score([deduction(30, 1)]).score);
    expect(dedKept).to.be.greaterThan(awardKept);
  });

  it('a deduction stops counting entirely at five years', () => {
    expect(impact(score([deduction(100, 1824)]), 'DEDUCTIONS')).to.be.lessThan(0);
    expect(score([deduction(100, 1825)])).to.deep.equal(score([]));
    expect(score([award(10, 3000), deduction(100, 1900)])).to.deep.equal(score([award(10, 3000)]));
  });

  it('a reversal that gives merit back cancels the deduction it undoes', () => {
    const reversed = score([
      award(20, 100),
      deduction(30, 50),
      { type: 'reversal', meritDelta: 30, createdAt: daysAgo(40) },
    ]);
    expect(reversed).to.deep.equal(score([award(20, 100)]));
  });

  it('positive and negative adjustments act as award and deduction', () => {
    expect(
      score([{ type: 'adjustment', meritDelta: 50, createdAt: daysAgo(5) }]).score,
    ).to.be.greaterThan(500);
    expect(
      score([{ type: 'adjustment', meritDelta: -50, createdAt: daysAgo(5) }]).score,
    ).to.be.lessThan(500);
  });

  it('a village that awards fewer points than the reference lifts its households, within 0.5–2×', () => {
    const entries = [award(40, 30)];
    const stingy = score(entries, { otherHouseholds: 100, otherAwardPoints: 1500 }); // 15/household/year
    const generous = score(entries, { otherHouseholds: 100, otherAwardPoints: 24000 }); // 240/household/year
    const reference = score(entries, { otherHouseholds: 100, otherAwardPoints: 6000 });
    expect(stingy.score).to.be.greaterThan(reference.score);
    expect(generous.score).to.be.lessThan(reference.score);
    expect(villageFactor(MODEL_V1, { otherHouseholds: 100, otherAwardPoints: 1500 })).to.equal(2);
    expect(villageFactor(MODEL_V1, { otherHouseholds: 100, otherAwardPoints: 24000 })).to.equal(
      0.5,
    );
    expect(villageFactor(MODEL_V1, { otherHouseholds: 100, otherAwardPoints: 3000 })).to.equal(2);
    expect(villageFactor(MODEL_V1, { otherHouseholds: 100, otherAwardPoints: 12000 })).to.equal(
      0.5,
    );
    expect(villageFactor(MODEL_V1, { otherHouseholds: 100, otherAwardPoints: 8000 })).to.equal(
      0.75,
    );
    expect(villageFactor(MODEL_V1, NO_VILLAGE)).to.equal(1);
  });

  it('reasons are the four largest factors by |impact|, with stable codes, Chinese text and signed impact', () => {
    const r = score([
      ...Array.from({ length: 8 }, (_, i) => award(15, 10 + i * 31)),
      award(30, 40, 'star-household'),
      deduction(20, 900),
    ]);
    expect(r.reasons).to.have.length(4);
    const impacts = r.reasons.map((x) => Math.abs(x.impact));
    expect(impacts).to.deep.equal([...impacts].sort((a, b) => b - a));
    for (const reason of r.reasons) {
      expect([
        'MERIT_RECENT',
        'STEADY_PARTICIPATION',
        'HONOURS',
        'DEDUCTIONS',
        'CLEAN_RECORD',
      ]).to.include(reason.code);
      expect(reason.text).to.match(/[\u4e00-\u9fff]/);
      expect(Number.isInteger(reason.impact)).to.equal(true);
    }
    expect(r.reasons.find((x) => x.code === 'DEDUCTIONS')?.impact ?? -1).to.be.lessThan(0);
  });

  it('grades follow the thresholds, default 800/650/500/350, and configurable', () => {
    expect([1000, 800, 799, 650, 649, 500, 499, 350, 349, 0].map((s) => gradeOf(s))).to.deep.equal([
      '优秀',
      '优秀',
      '良好',
      '良好',
      '中等',
      '中等',
      '一般',
      '一般',
      '较差',
      '较差',
    ]);
    expect(gradeOf(500, [900, 800, 700, 600])).to.equal('较差');
    expect(
      computeScore(
        { asOf: AS_OF, entries: [], village: NO_VILLAGE },
        MODEL_V1,
        [900, 800, 700, 600],
      ).grade,
    ).to.equal('较差');
  });

  describe('properties over random histories', () => {
    const entryArb: fc.Arbitrary<ScoreEntry> = fc.oneof(
      fc.record({
        type: fc.constant('award' as const),
        meritDelta: fc.integer({ min: 1, max: 200 }),
        createdAt: fc.integer({ min: -2500, max: 10 }).map((d) => daysAgo(-d)),
        ruleCode: fc.constantFrom(
          'volunteer-hour',
          'best-family',
          'star-household',
          'environment',
          'honour-x',
        ),
      }),
      fc.record({
        type: fc.constant('deduction' as const),
        meritDelta: fc.integer({ min: -200, max: -1 }),
        createdAt: fc.integer({ min: -2500, max: 10 }).map((d) => daysAgo(-d)),
        ruleCode: fc.constantFrom('gambling', 'lavish-banquet'),
      }),
      fc.record({
        type: fc.constant('adjustment' as const),
        meritDelta: fc.integer({ min: -100, max: 100 }),
        createdAt: fc.integer({ min: -2500, max: 10 }).map((d) => daysAgo(-d)),
      }),
      fc.record({
        type: fc.constant('reversal' as const),
        meritDelta: fc.integer({ min: -100, max: 100 }),
        createdAt: fc.integer({ min: -2500, max: 10 }).map((d) => daysAgo(-d)),
      }),
      fc.record({
        type: fc.constantFrom('redemption' as const, 'expiry' as const),
        meritDelta: fc.integer({ min: -50, max: 0 }),
        createdAt: fc.integer({ min: -2500, max: 10 }).map((d) => daysAgo(-d)),
      }),
    );
    const historyArb = fc.array(entryArb, { maxLength: 60 });
    const villageArb = fc.record({
      otherHouseholds: fc.integer({ min: 0, max: 500 }),
      otherAwardPoints: fc.integer({ min: 0, max: 100_000 }),
    });
    const whenArb = fc.integer({ min: 0, max: 2400 });
    const position = fc.nat();
    const runs = { numRuns: 2000 };
    const insertAt = (h: ScoreEntry[], pos: number, e: ScoreEntry) => {
      const i = h.length ? pos % (h.length + 1) : 0;
      return [...h.slice(0, i), e, ...h.slice(i)];
    };

    it('one more award never lowers the score (2,000 random histories)', () => {
      fc.assert(
        fc.property(
          historyArb,
          villageArb,
          fc.integer({ min: 1, max: 300 }),
          whenArb,
          fc.constantFrom('volunteer-hour', 'best-family', 'environment'),
          position,
          (h, v, pts, ago, code, pos) => {
            const before = computeScore({ asOf: AS_OF, entries: h, village: v }).score;
            const after = computeScore({
              asOf: AS_OF,
              entries: insertAt(h, pos, award(pts, ago, code)),
              village: v,
            }).score;
            return after >= before;
          },
        ),
        runs,
      );
    });

    it('one more deduction never raises the score (2,000 random histories)', () => {
      fc.assert(
        fc.property(
          historyArb,
          villageArb,
          fc.integer({ min: 1, max: 300 }),
          whenArb,
          position,
          (h, v, pts, ago, pos) => {
            const before = computeScore({ asOf: AS_OF, entries: h, village: v }).score;
            const after = computeScore({
              asOf: AS_OF,
              entries: insertAt(h, pos, deduction(pts, ago)),
              village: v,
            }).score;
            return after <= before;
          },
        ),
        runs,
      );
    });

    it('the score is an integer in 0–1000, the same for the same input, and independent of how entries of different times are ordered', () => {
      fc.assert(
        fc.property(historyArb, villageArb, (h, v) => {
          const a = computeScore({ asOf: AS_OF, entries: h, village: v });
          // Entries posted at the same millisecond keep their chain order (a stable sort); others may come in any order.
          const b = computeScore({
            asOf: AS_OF,
            entries: [...h]
              .sort((x, y) => (y.createdAt as number) - (x.createdAt as number))
              .sort((x, y) => (x.createdAt as number) - (y.createdAt as number)),
            village: v,
          });
          expect(Number.isInteger(a.score) && a.score >= 0 && a.score <= 1000).to.equal(true);
          expect(a.reasons.length).to.be.within(1, 4);
          return (
            a.score === b.score &&
            JSON.stringify(computeScore({ asOf: AS_OF, entries: h, village: v })) ===
              JSON.stringify(a)
          );
        }),
        { numRuns: 1000 },
      );
    });

    it('adding redemptions or expiries never changes the score (1,000 random histories)', () => {
      fc.assert(
        fc.property(
          historyArb,
          villageArb,
          fc.integer({ min: -500, max: 0 }),
          whenArb,
          fc.constantFrom('redemption' as const, 'expiry' as const),
          (h, v, d, ago, type) => {
            const before = computeScore({ asOf: AS_OF, entries: h, village: v });
            const after = computeScore({
              asOf: AS_OF,
              entries: [...h, { type, meritDelta: d, createdAt: daysAgo(ago) }],
              village: v,
            });
            return JSON.stringify(before) === JSON.stringify(after);
          },
        ),
        { numRuns: 1000 },
      );
    });

    it('entries posted after asOf never change the answer (1,000 random histories)', () => {
      fc.assert(
        fc.property(
          historyArb,
          villageArb,
          fc.array(entryArb, { maxLength: 20 }),
          (h, v, extra) => {
            const input: ScoreInput = { asOf: AS_OF, entries: h, village: v };
            const later = extra.map((e) => ({
              ...e,
              createdAt: AS_OF.getTime() + 1 + Math.abs((e.createdAt as number) - AS_OF.getTime()),
            }));
            return (
              JSON.stringify(computeScore(input)) ===
              JSON.stringify(computeScore({ ...input, entries: [...h, ...later] }))
            );
          },
        ),
        { numRuns: 1000 },
      );
    });
  });
});

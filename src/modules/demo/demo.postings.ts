/**
 * The demo households' ledger history: an opening balance, a few awards, sometimes a deduction
 * or a supermarket redemption, drawn from a seeded PRNG. Pure: it only builds the postings;
 * demo.seed.ts posts them through the ledger's verbs (each with its own source id).
 */
import type { HouseholdView } from '../households/households.service';
import { adjust, award, deduct, redeem, type Posting } from '../ledger/ledger.service';
import { between, pick, type Rng } from './demo.names';

/** The source type of every demo ledger posting. */
export const DEMO_SOURCE_TYPE = 'demo-seed';

/** Awards and deductions a village council would plausibly have posted (demo only). */
const AWARDS = [
  { reason: '参加村庄环境整治志愿服务 4 小时', points: 8 },
  { reason: '照顾村里孤寡老人', points: 10 },
  { reason: '婚事新办，不收高额彩礼', points: 20 },
  { reason: '评为“最美家庭”', points: 30 },
  { reason: '义务调解邻里纠纷', points: 5 },
  { reason: '参加新时代文明实践政策宣讲', points: 3 },
  { reason: '拾金不昧', points: 10 },
] as const;
const DEDUCTIONS = [
  { reason: '操办酒席超出村规民约标准', points: 15 },
  { reason: '参与赌博', points: 20 },
  { reason: '不赡养老人，经调解仍未改正', points: 30 },
] as const;
const REDEMPTIONS = [
  '公益超市兑换：洗衣粉 1 袋',
  '公益超市兑换：食用油 1 桶',
  '公益超市兑换：大米 5 斤',
  '公益超市兑换：学习用品',
] as const;

/** One demo posting: a ledger verb and what it posts. */
export interface DemoPosting {
  verb: typeof award;
  input: Posting & { points: number };
}

/** An opening balance, a few awards, sometimes a deduction or a supermarket redemption. */
export function demoPostings(rng: Rng, h: HouseholdView): DemoPosting[] {
  const list: DemoPosting[] = [];
  const source = () => ({ type: DEMO_SOURCE_TYPE, id: `${h.cardNo}:${list.length + 1}` });
  let spendable = 0;
  const opening = 10 * between(rng, 2, 12);
  list.push({
    verb: adjust,
    input: { householdId: h.id, points: opening, source: source(), reason: '期初积分（演示数据）' },
  });
  spendable += opening;
  for (let n = between(rng, 0, 3); n > 0; n--) {
    const a = pick(rng, AWARDS);
    list.push({
      verb: award,
      input: {
        householdId: h.id,
        points: a.points,
        source: source(),
        reason: `${a.reason}（演示数据）`,
      },
    });
    spendable += a.points;
  }
  if (rng() < 0.1) {
    const d = pick(rng, DEDUCTIONS);
    // A deduction takes merit in full and spendable only as far as it goes (I2).
    const fromSpendable = Math.min(d.points, spendable);
    list.push({
      verb: deduct,
      input: {
        householdId: h.id,
        points: d.points,
        source: source(),
        reason: `${d.reason}（演示数据）`,
      },
    });
    spendable -= fromSpendable;
  }
  if (rng() < 0.3 && spendable >= 10) {
    // Spending lowers what can be spent, never what was earned (merit).
    const cost = Math.min(spendable, 5 * between(rng, 2, 8));
    list.push({
      verb: redeem,
      input: {
        householdId: h.id,
        points: cost,
        source: source(),
        reason: `${pick(rng, REDEMPTIONS)}（演示数据）`,
      },
    });
  }
  return list;
}

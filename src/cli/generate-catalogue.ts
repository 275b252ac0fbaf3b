/**
 * What happens in a generated village (generate-plan.ts draws from it): the award rules with how
 * often each is given, the deduction rules, and the goods of the points supermarket. Data only,
 * with the one draw by weight; changing it changes every generated history for a seed.
 */
import { between, pick, type Rng } from '../modules/demo/demo.names';

/** Award rules and how often each is given (weights), with the points and a reason. */
const AWARDS: {
  weight: number;
  ruleCode: string;
  make: (rng: Rng) => { points: number; reason: string };
}[] = [
  {
    weight: 45,
    ruleCode: 'volunteer-hour',
    make: (rng) => {
      const h = between(rng, 1, 8);
      return {
        points: 2 * h,
        reason: `参加${pick(rng, ['村庄环境整治', '政策宣讲', '关爱留守儿童', '防汛值守', '文艺演出'])}志愿服务 ${h} 小时`,
      };
    },
  },
  {
    weight: 25,
    ruleCode: 'environment',
    make: () => ({ points: 5, reason: '房前屋后整洁，评为卫生清洁户' }),
  },
  {
    weight: 12,
    ruleCode: 'filial-piety',
    make: () => ({ points: 10, reason: '孝敬老人，照顾卧病婆婆' }),
  },
  {
    weight: 8,
    ruleCode: 'star-household',
    make: () => ({ points: 20, reason: '年度评为星级文明户' }),
  },
  {
    weight: 5,
    ruleCode: 'simple-wedding',
    make: () => ({ points: 15, reason: '婚事新办，不收高额彩礼' }),
  },
  {
    weight: 4,
    ruleCode: 'best-family',
    make: () => ({ points: 30, reason: '获评乡镇“最美家庭”' }),
  },
  {
    weight: 1,
    ruleCode: 'heroic-deed',
    make: () => ({ points: 50, reason: '见义勇为，救起落水儿童' }),
  },
];
const AWARD_WEIGHT = AWARDS.reduce((a, r) => a + r.weight, 0);
/** Deduction rules, equally likely, with the points and a reason. */
export const DEDUCTIONS = [
  { ruleCode: 'gambling', points: 20, reason: '参与赌博，经查实' },
  { ruleCode: 'lavish-banquet', points: 20, reason: '操办酒席超出村规民约标准' },
  { ruleCode: 'high-bride-price', points: 30, reason: '收受高额彩礼' },
  { ruleCode: 'elder-neglect', points: 30, reason: '不赡养老人，经调解仍未改正' },
];
/** What households take home from the points supermarket. */
export const GOODS = [
  '洗衣粉 1 袋',
  '食用油 1 桶',
  '大米 5 斤',
  '学习用品',
  '香皂 2 块',
  '毛巾 2 条',
  '酱油醋',
];

/** An award rule, drawn by weight. */
export function pickAward(rng: Rng) {
  let r = rng() * AWARD_WEIGHT;
  for (const a of AWARDS) {
    r -= a.weight;
    if (r < 0) return a;
  }
  return AWARDS[0]!;
}

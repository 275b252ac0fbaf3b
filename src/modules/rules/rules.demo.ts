/**
 * The demo county's catalogue (积分细则), modelled on the published county catalogues: volunteer
 * hours at a rate, honours and good deeds at fixed points, and deductions for breaking the
 * village compact. Seeding is idempotent: each code's version 1 is inserted once (the unique
 * (code, version) index makes a second seed, or two at once, a no-op).
 */
import { isDuplicateKeyError } from '../../platform/errors';
import { RuleVersion } from './rules.model';
import type { NewRuleVersion } from './rules.service';

export const DEMO_RULES: readonly (NewRuleVersion & { effectiveFrom: string })[] = [
  {
    code: 'volunteer-hour',
    title: '志愿服务',
    kind: 'award',
    pointsPerUnit: 2,
    unit: '小时',
    capPerMonth: 40,
    capPerYear: 300,
    effectiveFrom: '2024-01-01',
    description: '参加村志愿服务队活动，按服务时长计分（每小时2分），每月最多40分。',
  },
  {
    code: 'volunteer-milestone',
    title: '志愿服务时长表彰',
    kind: 'award',
    points: 20,
    effectiveFrom: '2024-01-01',
    description:
      '志愿服务时长累计达到100、300、1000小时，各表彰一次（由系统按志愿服务时长记录提请评议）。',
  },
  {
    code: 'heroic-deed',
    title: '见义勇为',
    kind: 'award',
    points: 50,
    attachmentRequired: true,
    effectiveFrom: '2024-01-01',
    description: '见义勇为、救人于危难，经核实后计分，须附证明材料。',
  },
  {
    code: 'filial-piety',
    title: '孝老爱亲',
    kind: 'award',
    points: 10,
    capPerYear: 30,
    effectiveFrom: '2024-01-01',
    description: '孝敬老人、关爱家人事迹突出。',
  },
  {
    code: 'best-family',
    title: '最美家庭',
    kind: 'award',
    points: 30,
    capPerYear: 30,
    attachmentRequired: true,
    effectiveFrom: '2024-01-01',
    description: '获评乡镇及以上“最美家庭”称号，须附证书照片。',
  },
  {
    code: 'star-household',
    title: '星级文明户',
    kind: 'award',
    points: 20,
    capPerYear: 20,
    effectiveFrom: '2024-01-01',
    description: '年度评为星级文明户。',
  },
  {
    code: 'simple-wedding',
    title: '婚事新办',
    kind: 'award',
    points: 15,
    effectiveFrom: '2024-01-01',
    description: '婚事新办、简办，不收或少收彩礼，不大操大办。',
  },
  {
    code: 'environment',
    title: '环境卫生',
    kind: 'award',
    points: 5,
    capPerMonth: 10,
    effectiveFrom: '2024-01-01',
    description: '房前屋后整洁，积极参加村庄环境整治。',
  },
  {
    code: 'high-bride-price',
    title: '高价彩礼',
    kind: 'deduction',
    points: 30,
    attachmentRequired: false,
    effectiveFrom: '2024-01-01',
    description: '索要或收受超过村规民约限额的彩礼。',
  },
  {
    code: 'lavish-banquet',
    title: '大操大办',
    kind: 'deduction',
    points: 20,
    effectiveFrom: '2024-01-01',
    description: '红白喜事超标准大操大办、铺张浪费。',
  },
  {
    code: 'gambling',
    title: '赌博',
    kind: 'deduction',
    points: 20,
    effectiveFrom: '2024-01-01',
    description: '参与赌博，经查实。',
  },
  {
    code: 'elder-neglect',
    title: '不赡养老人',
    kind: 'deduction',
    points: 30,
    effectiveFrom: '2024-01-01',
    description: '有赡养能力而拒不履行赡养义务。',
  },
];

/** Inserts the demo catalogue's first versions; returns how many codes were new. */
export async function seedDemoRules(): Promise<number> {
  let created = 0;
  for (const r of DEMO_RULES) {
    try {
      await RuleVersion.create([
        { ...r, version: 1, attachmentRequired: r.attachmentRequired ?? false, retired: false },
      ]);
      created++;
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err;
    }
  }
  return created;
}

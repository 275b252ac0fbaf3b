/**
 * Deterministic generator of households with realistic Chinese names for the demo county.
 * A seed fixes the whole roster, so a demo, a screenshot and a test see the same people.
 * Pure: no database, no clock, no Math.random.
 */

/** A small, fast, well-mixed 32-bit PRNG (mulberry32); good enough for demo data. */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export type Rng = () => number;
export const pick = <T>(rng: Rng, list: readonly T[]): T => list[Math.floor(rng() * list.length)]!;
/** An integer in [min, max]. */
export const between = (rng: Rng, min: number, max: number): number =>
  min + Math.floor(rng() * (max - min + 1));

// Common surnames of Han households in Gansu's Hexi corridor, most frequent first (repeated
// entries weight the draw).
const SURNAMES = [
  '王',
  '王',
  '李',
  '李',
  '张',
  '张',
  '刘',
  '陈',
  '杨',
  '杨',
  '赵',
  '马',
  '马',
  '魏',
  '何',
  '孙',
  '朱',
  '郭',
  '胡',
  '周',
  '徐',
  '苏',
  '冯',
  '韩',
  '蒋',
  '罗',
  '安',
  '丁',
  '祁',
  '鲁',
  '雷',
  '汪',
  '范',
  '宋',
  '潘',
  '谢',
];
const MALE_ADULT = [
  '建国',
  '建军',
  '国庆',
  '志强',
  '志刚',
  '永强',
  '海军',
  '文斌',
  '晓东',
  '德明',
  '振华',
  '世杰',
  '学文',
  '长青',
  '有福',
  '继红',
  '玉龙',
  '万林',
  '生荣',
  '兴旺',
  '伟',
  '强',
  '军',
  '斌',
  '勇',
  '涛',
  '鹏',
  '明',
  '磊',
];
const FEMALE_ADULT = [
  '秀英',
  '桂兰',
  '玉兰',
  '春梅',
  '红霞',
  '丽娟',
  '海燕',
  '翠花',
  '金花',
  '淑珍',
  '晓梅',
  '小红',
  '玉梅',
  '彩霞',
  '芳',
  '燕',
  '丽',
  '娟',
  '霞',
  '静',
];
const CHILD = [
  '子涵',
  '浩然',
  '一鸣',
  '梓轩',
  '欣怡',
  '雨涵',
  '思雨',
  '佳怡',
  '俊杰',
  '博文',
  '宇航',
  '诗琪',
  '天佑',
  '嘉豪',
  '梦瑶',
];
const ELDER = ['德福', '有才', '长顺', '福贵', '玉珍', '秀兰', '凤英', '占魁', '桂芳'];
// Tibetan households (a Tianzhu-like county is a Tibetan autonomous county): names without a
// surname, often two names joined.
const TIBETAN_MALE = [
  '才让',
  '扎西',
  '多杰',
  '索南',
  '旦正',
  '贡保',
  '才让东智',
  '扎西才让',
  '多杰加布',
];
const TIBETAN_FEMALE = ['卓玛', '拉毛', '央金', '措毛', '德吉', '卓玛草', '拉毛吉'];

export interface GeneratedHousehold {
  head: string;
  members: string[];
}

/** `count` households: a head, usually a spouse, 0–3 children and sometimes an elder parent. */
export function generateHouseholds(seed: number, count: number): GeneratedHousehold[] {
  const rng = createRng(seed);
  const out: GeneratedHousehold[] = [];
  for (let i = 0; i < count; i++) {
    if (rng() < 0.1) {
      const head = pick(rng, TIBETAN_MALE);
      const members = [pick(rng, TIBETAN_FEMALE)];
      for (let c = between(rng, 0, 3); c > 0; c--)
        members.push(rng() < 0.5 ? pick(rng, TIBETAN_MALE) : pick(rng, TIBETAN_FEMALE));
      out.push({ head, members: [...new Set(members.filter((m) => m !== head))] });
      continue;
    }
    const surname = pick(rng, SURNAMES);
    const femaleHead = rng() < 0.15;
    const head = surname + pick(rng, femaleHead ? FEMALE_ADULT : MALE_ADULT);
    const members: string[] = [];
    if (rng() < 0.85)
      members.push(pick(rng, SURNAMES) + pick(rng, femaleHead ? MALE_ADULT : FEMALE_ADULT));
    for (let c = between(rng, 0, 3); c > 0; c--) members.push(surname + pick(rng, CHILD));
    if (rng() < 0.3) members.push(surname + pick(rng, ELDER));
    out.push({ head, members: [...new Set(members.filter((m) => m !== head))] });
  }
  return out;
}

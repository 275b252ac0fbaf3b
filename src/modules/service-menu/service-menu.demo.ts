/**
 * The demo county's service menu: the eight standing categories counties publish (政策宣讲,
 * 文化文艺, 教育辅导, 医疗健康, 科技科普, 法律服务, 生态环保, 扶贫帮困) and 46 items a household
 * can order, modelled on published county menus (群众点单菜单).
 */
import type { MenuCategory } from './service-menu.model';

const items = (prefix: string, names: string[]) =>
  names.map((name, i) => ({ code: `${prefix}-${String(i + 1).padStart(2, '0')}`, name }));

export const DEMO_MENU: readonly MenuCategory[] = [
  {
    code: 'policy',
    name: '理论政策宣讲',
    items: items('policy', [
      '党的创新理论宣讲',
      '惠农政策解读',
      '乡村振兴政策宣讲',
      '法律法规进村入户',
      '移风易俗宣传',
      '村规民约宣讲',
    ]),
  },
  {
    code: 'culture',
    name: '文化文艺',
    items: items('culture', [
      '送戏下乡',
      '广场舞教学',
      '书写春联',
      '露天电影放映',
      '农家书屋读书会',
      '传统节日民俗活动',
    ]),
  },
  {
    code: 'tutoring',
    name: '教育辅导',
    items: items('tutoring', [
      '留守儿童课业辅导',
      '假期托管',
      '家庭教育指导',
      '青少年心理疏导',
      '老年人智能手机培训',
      '普通话推广',
    ]),
  },
  {
    code: 'health',
    name: '医疗健康',
    items: items('health', [
      '义诊',
      '健康知识讲座',
      '慢病随访',
      '上门测量血压血糖',
      '心理健康咨询',
      '急救知识培训',
    ]),
  },
  {
    code: 'science',
    name: '科技科普',
    items: items('science', [
      '农业技术指导',
      '科学种养培训',
      '电商直播培训',
      '防灾减灾科普',
      '反电信诈骗宣传',
      '农机安全培训',
    ]),
  },
  {
    code: 'legal',
    name: '法律服务',
    items: items('legal', [
      '法律咨询',
      '矛盾纠纷调解',
      '合同审查',
      '农民工讨薪援助',
      '婚姻家庭法律服务',
    ]),
  },
  {
    code: 'environment',
    name: '生态环保',
    items: items('environment', [
      '村庄环境整治',
      '垃圾分类指导',
      '植树护绿',
      '河道清理',
      '农村改厕宣传',
    ]),
  },
  {
    code: 'care',
    name: '扶贫帮困',
    items: items('care', [
      '孤寡老人关爱',
      '残疾人帮扶',
      '困难家庭走访',
      '代购代办',
      '农忙互助',
      '爱心理发',
    ]),
  },
];

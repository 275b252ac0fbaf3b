/**
 * The demo county's day-to-day activity, so that every page has something to show on first start:
 * goods on the supermarket's shelves and a few sales today; households that consented to the
 * cooperative; submissions waiting for the council, one in public notice, and awards posted this
 * month (the red list). Everything goes through the module services, exactly as the pages would.
 */
import type { Principal } from '../../platform/principal';
import { createConsent } from '../credit/consents.service';
import type { HouseholdView } from '../households/households.service';
import { redeem } from '../redemption/redemption.service';
import { createItem } from '../stores/items.service';
import { castVote, endNotice, fileSubmission } from '../submissions/submissions.service';
import { updateVillagePolicy, type VillageView } from '../villages/villages.service';

export const DEMO_ITEMS = [
  { sku: 'RICE-5', name: '大米5斤', points: 25, stock: 40 },
  { sku: 'OIL-1', name: '食用油1桶', points: 30, stock: 20 },
  { sku: 'SOAP', name: '肥皂', points: 5, stock: 100 },
  { sku: 'DETERGENT', name: '洗衣粉1袋', points: 10, stock: 50 },
  { sku: 'NOTEBOOK', name: '作业本', points: 3, stock: 200 },
  { sku: 'TOWEL', name: '毛巾', points: 8, stock: 4 },
] as const;

/** Households per village that consented to the cooperative (the household logins among them). */
const CONSENTS_PER_VILLAGE = 8;
const YEAR_MS = 365 * 86_400_000;

export interface DemoActivityInput {
  villages: VillageView[];
  households: HouseholdView[];
  /** User ids of each village's clerk and council members, by village id. */
  staff: Map<string, { clerk: string; council: string[] }>;
  storeId: string;
  terminalId: string;
  cooperativeId: string;
  /** The village policy the demo keeps (the seed posts this month's awards with no notice first). */
  policy: { quorum: number; noticePeriod: string };
}

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);

export async function seedDemoActivity(input: DemoActivityInput): Promise<void> {
  for (const item of DEMO_ITEMS) await createItem(input.storeId, item);

  const terminal: Principal = {
    id: input.terminalId,
    kind: 'terminal',
    role: 'terminal',
    storeId: input.storeId,
  };
  for (const [i, h] of input.households.slice(0, 3).entries()) {
    await redeem(terminal, {
      key: `demo-sale-${i + 1}`,
      cardNo: h.cardNo,
      items: [{ sku: i === 0 ? 'SOAP' : 'NOTEBOOK', qty: 2 }],
    });
  }

  for (const v of input.villages) {
    const mine = input.households.filter((h) => h.villageId === v.id);
    for (const h of mine.slice(0, CONSENTS_PER_VILLAGE)) {
      const household: Principal = {
        id: `demo-household-${h.cardNo}`,
        kind: 'person',
        role: 'household',
        householdId: h.id,
        villageId: v.id,
      };
      await createConsent(household, {
        householdId: h.id,
        cooperativeId: input.cooperativeId,
        expiresAt: new Date(Date.now() + YEAR_MS),
      });
    }
    await seedVillageSubmissions(v, mine, input);
  }
}

async function seedVillageSubmissions(
  v: VillageView,
  households: HouseholdView[],
  input: DemoActivityInput,
): Promise<void> {
  if (!households.length) return;
  // A small demo (`seed-demo --households 12`) has few households a village: they take turns.
  const mine = Array.from({ length: 8 }, (_, i) => households[i % households.length]!);
  const staff = input.staff.get(v.id)!;
  const clerk: Principal = { id: staff.clerk, kind: 'person', role: 'clerk', villageId: v.id };
  const council = staff.council.map((id): Principal => ({
    id,
    kind: 'person',
    role: 'council',
    villageId: v.id,
  }));
  const file = (
    householdId: string,
    ruleCode: string,
    text: string,
    extra: { quantity?: number; occurredOn?: string } = {},
  ) =>
    fileSubmission(clerk, {
      villageId: v.id,
      householdId,
      ruleCode,
      occurredOn: extra.occurredOn ?? today(),
      evidence: { text },
      ...(extra.quantity ? { quantity: extra.quantity } : {}),
    });
  const approveAll = async (id: string) => {
    for (const member of council.slice(0, input.policy.quorum))
      await castVote(member, id, { decision: 'approve' });
  };

  // Posted this month (the red list): the notice is skipped for these demo postings only.
  await updateVillagePolicy(v.id, { noticePeriod: 'PT0S' });
  for (const [h, rule, text] of [
    [mine[3]!, 'filial-piety', '照顾卧床老母亲多年，邻居和村医证明（演示数据）'],
    [mine[4]!, 'simple-wedding', '女儿婚事新办，未收彩礼，红白理事会证明（演示数据）'],
    // A posted deduction of a household that has a demo login, so its appeal page has a case.
    [mine[1]!, 'lavish-banquet', '办满月酒超过村规民约规定的桌数，红白理事会记录（演示数据）'],
  ] as const) {
    const s = await file(h.id, rule, text, { occurredOn: daysAgo(3) });
    await approveAll(s.id);
    await endNotice(s.id, 1);
  }
  await updateVillagePolicy(v.id, { noticePeriod: input.policy.noticePeriod });

  // In public notice (households may object), and waiting for the council's votes.
  const inNotice = await file(
    mine[5]!.id,
    'environment',
    '房前屋后整洁，参加村庄环境整治（演示数据）',
    { occurredOn: daysAgo(1) },
  );
  await approveAll(inNotice.id);
  await file(mine[6]!.id, 'volunteer-hour', '参加村志愿服务队清理河道，队长签字证明（演示数据）', {
    quantity: 3,
  });
  await file(
    mine[7]!.id,
    'lavish-banquet',
    '办寿宴超过村规民约规定的桌数，红白理事会记录（演示数据）',
    { occurredOn: daysAgo(2) },
  );
}

/**
 * What a counter reads besides redeeming: the card in front of it (masked head name, spendable
 * points, PIN state) and the store's day (sales and stock). Read-only.
 *
 * Invariants:
 * - A terminal reads only cards of villages its store serves and only its own store's day
 *   (others: `not_found`, as for a redemption, so a card's existence elsewhere is not revealed).
 * - The card view never carries the full head name: a counter shows it to whoever stands there.
 * - The day report counts a redemption by its own records only: `confirmed` ones are sales, a
 *   reversed one is listed apart and not counted, a failed one is counted as refused.
 */
import { notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { maskName } from '../boards/boards.service';
import { getAccount } from '../ledger/ledger.service';
import { listItems } from '../stores/items.service';
import { findStore } from '../stores/stores.service';
import { findVillage } from '../villages/villages.service';
import { pinStatusOf } from './pin.service';
import { shanghaiDay } from './receipt';
import {
  Redemption,
  RedemptionEvent,
  type RedemptionDoc,
  type RedemptionEventDoc,
} from './redemption.model';
import { householdOfCard } from './pricing';
import { idOf, isFull, type FullRedemption } from './redemption.views';
import type { z } from '../../platform/validation';
import type { cardSchema, dayReportSchema } from './redemption.schemas';

/** Redemptions one day report reads: a village counter serves hundreds a day, not this many. */
const DAY_REDEMPTIONS_MAX = 20_000;

export type CardView = z.infer<typeof cardSchema>;

async function storeOfTerminal(p: Principal, storeId?: string) {
  const id = p.role === 'terminal' ? p.storeId : storeId;
  if (p.role === 'terminal' && storeId && storeId !== p.storeId) throw notFound('store');
  const store = id ? await findStore(id) : undefined;
  if (!store) throw notFound('store');
  return store;
}

/** The card as the counter shows it (terminal of a store serving the card's village). */
export async function readCard(p: Principal, cardNo: string): Promise<CardView> {
  const store = await storeOfTerminal(p);
  const household = await householdOfCard(cardNo);
  if (!household || !store.villageIds.includes(household.villageId)) throw notFound('card');
  const householdId = household._id.toHexString();
  const [account, pin, village] = await Promise.all([
    getAccount(householdId),
    pinStatusOf(householdId),
    findVillage(household.villageId),
  ]);
  return {
    cardNo: household.cardNo,
    householdId,
    headMasked: maskName(household.head),
    villageName: village?.name ?? '',
    spendable: account.spendable,
    pinSet: pin.pinSet,
    lockedUntil: pin.lockedUntil,
    dailyLimit:
      typeof village?.policy.redemptionDailyLimit === 'number'
        ? village.policy.redemptionDailyLimit
        : null,
  };
}

export type DayReport = z.infer<typeof dayReportSchema>;

type DayStatus = DayReport['redemptions'][number]['status'];
type ItemRow = DayReport['items'][number];

/** The store's redemptions of the day, oldest first, with their settled and reversed events. */
async function redemptionsOfDay(storeId: string, day: string) {
  const docs = (
    await Redemption.find({ storeId, day })
      .sort({ _id: 1 })
      .limit(DAY_REDEMPTIONS_MAX)
      .lean<RedemptionDoc[]>()
  ).filter(isFull);
  const ids = docs.map(idOf);
  const events = ids.length
    ? await RedemptionEvent.find({
        _id: { $in: ids.flatMap((id) => [`${id}:settled`, `${id}:reversed`]) },
      }).lean<RedemptionEventDoc[]>()
    : [];
  return { docs, byId: new Map(events.map((e) => [e._id, e])) };
}

/** A redemption's status from its own events. */
function dayStatusOf(settled?: RedemptionEventDoc, reversed?: RedemptionEventDoc): DayStatus {
  if (!settled) return 'pending';
  if (settled.status === 'failed') return 'failed';
  return reversed ? 'reversed' : 'confirmed';
}

/** Adds a sale's lines to the per-item rows (an item since removed gets a row of its own). */
function countLines(items: Map<string, ItemRow>, r: FullRedemption): void {
  for (const l of r.lines) {
    const row = items.get(l.sku) ?? {
      sku: l.sku,
      name: l.name,
      qtySold: 0,
      pointsSold: 0,
      stock: 0,
    };
    row.qtySold += l.qty;
    row.pointsSold += l.points;
    items.set(l.sku, row);
  }
}

/** The store's day: what sold, what was reversed or refused, and the stock now. */
export async function storeDayReport(
  p: Principal,
  storeId: string,
  day: string | undefined,
): Promise<DayReport> {
  const store = await storeOfTerminal(p, storeId);
  const theDay = day ?? shanghaiDay(new Date());
  const sid = store._id.toHexString();
  const { docs, byId } = await redemptionsOfDay(sid, theDay);
  const stock = await listItems(p, sid);
  const items = new Map(
    stock.map((i) => [
      i.sku,
      { sku: i.sku, name: i.name, qtySold: 0, pointsSold: 0, stock: i.stock },
    ]),
  );
  const report: DayReport = {
    storeId: sid,
    storeName: store.name,
    day: theDay,
    sales: { count: 0, points: 0 },
    reversed: { count: 0, points: 0 },
    refused: 0,
    items: [],
    redemptions: [],
  };
  for (const r of docs) {
    const id = idOf(r);
    const settled = byId.get(`${id}:settled`);
    const status = dayStatusOf(settled, byId.get(`${id}:reversed`));
    report.redemptions.push({
      id,
      receiptNo: id.toUpperCase(),
      time: r.occurredAt.toISOString(),
      cardNo: r.cardNo,
      points: r.points,
      status,
      failureCode: settled?.status === 'failed' ? (settled.code ?? null) : null,
    });
    if (status === 'failed') report.refused++;
    if (status === 'reversed') {
      report.reversed.count++;
      report.reversed.points += r.points;
    }
    if (status !== 'confirmed') continue;
    report.sales.count++;
    report.sales.points += r.points;
    countLines(items, r);
  }
  report.items = [...items.values()].sort((a, b) => a.sku.localeCompare(b.sku));
  report.redemptions.reverse();
  return report;
}

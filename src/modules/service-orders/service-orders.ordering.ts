/**
 * 点单: a household (or its clerk) places an order from the county's menu. The order's reminder
 * and timeout wake-ups are written before the order (O2).
 * Part of the volunteer service loop (service-orders.service.ts holds its invariants and
 * re-exports this verb).
 */
import { Types } from 'mongoose';
import { clock, durationMs, isCalendarDate, todayUtc } from '../../platform/clock';
import { DomainError, notFound, validationError } from '../../platform/errors';
import { type Principal } from '../../platform/principal';
import { findHousehold } from '../households/households.service';
import { findMenuItem } from '../service-menu/service-menu.service';
import { findVillage, orderPolicyOf } from '../villages/villages.service';
import { orderSlots } from './service-order-state';
import { ServiceOrder } from './service-orders.model';
import { ensureOrderWakeup, insertOrderEvent, wakeupIdOf } from './service-orders.records';
import { reconcileOrder, type OrderDeps } from './service-orders.reconcile';
import { toOrderView, type OrderView } from './service-orders.views';
import { actsForVillage } from './service-orders.reach';

export interface NewOrder {
  householdId: string;
  itemCode: string;
  detail: string;
  wantedBy: string;
}

function checkWantedBy(wantedBy: string): void {
  const day = wantedBy.slice(0, 10);
  if (!isCalendarDate(day) || (wantedBy.length > 10 && Number.isNaN(Date.parse(wantedBy)))) {
    throw validationError([
      { path: 'wantedBy', message: 'must be a date YYYY-MM-DD or an ISO-8601 time' },
    ]);
  }
  if (day < todayUtc())
    throw validationError([{ path: 'wantedBy', message: 'must not be in the past' }]);
}

/** Where an order is placed and what it asks for: fixed when it is placed. */
interface OrderPlace {
  villageId: string;
  countyId: string;
  townshipId?: string;
  item: { code: string; name: string };
  category: { code: string; name: string };
  orderTimeout: string;
}

/**
 * The checks before an order is placed: the requester orders for their own household (or the
 * station for one of its villages, O4), the village is placed under its county, the item is on
 * that county's menu and the wanted date is not past.
 */
async function checkOrder(p: Principal, input: NewOrder): Promise<OrderPlace> {
  const household = await findHousehold(input.householdId);
  const mayOrder =
    household &&
    (p.role === 'household'
      ? p.householdId === input.householdId
      : actsForVillage(p, household.villageId));
  if (!household || !mayOrder) throw notFound('household');
  const village = (await findVillage(household.villageId))!;
  if (!village.countyId)
    throw new DomainError(
      'unavailable',
      'This village is not placed under its township yet; retry shortly.',
    );
  const menu = await findMenuItem(village.countyId, input.itemCode);
  if (!menu)
    throw validationError([
      { path: 'itemCode', message: "not an item of the county's service menu" },
    ]);
  checkWantedBy(input.wantedBy);
  const place: OrderPlace = {
    villageId: household.villageId,
    countyId: village.countyId,
    item: menu.item,
    category: menu.category,
    orderTimeout: orderPolicyOf(village).orderTimeout,
  };
  if (village.townshipId) place.townshipId = village.townshipId;
  return place;
}

/** The delayed jobs of the order's wake-ups; best effort, as the sweeper acts on the wake-ups. */
async function enqueueOrderTimers(
  id: string,
  timers: readonly (readonly ['remind' | 'timeout', Date])[],
  deps: OrderDeps,
): Promise<void> {
  if (!deps.enqueueTimer) return;
  for (const [kind, at] of timers) {
    await deps.enqueueTimer(id, kind, at).catch((err: unknown) => {
      deps.log?.warn(
        { err: (err as Error).message, orderId: id },
        'could not enqueue an order timer; the sweeper will act on its wake-up',
      );
    });
  }
}

export async function createOrder(
  p: Principal,
  input: NewOrder,
  deps: OrderDeps = {},
): Promise<OrderView> {
  const place = await checkOrder(p, input);
  const now = clock.now();
  const timeout = place.orderTimeout;
  const timeoutAt = new Date(now.getTime() + durationMs(timeout));
  const remindAt = new Date(now.getTime() + durationMs(timeout) / 2);
  const _id = new Types.ObjectId();
  const id = _id.toHexString();
  const timers = [
    ['remind', remindAt],
    ['timeout', timeoutAt],
  ] as const;
  // O2: the wake-ups first, so the order escalates even if everything after this is lost.
  for (const [kind, at] of timers)
    await ensureOrderWakeup({ _id: wakeupIdOf(kind, id), orderId: id, kind, at });
  const doc: Record<string, unknown> = {
    _id,
    householdId: input.householdId,
    villageId: place.villageId,
    countyId: place.countyId,
    itemCode: place.item.code,
    itemName: place.item.name,
    categoryCode: place.category.code,
    categoryName: place.category.name,
    detail: input.detail,
    wantedBy: input.wantedBy,
    orderTimeout: timeout,
    remindAt,
    timeoutAt,
    createdBy: p.id,
    createdByRole: p.role,
    status: 'ordered',
    round: 1,
  };
  if (place.townshipId) doc.townshipId = place.townshipId;
  await ServiceOrder.create([doc]);
  await insertOrderEvent(id, {
    slot: orderSlots.ordered,
    type: 'ordered',
    by: p.id,
    byRole: p.role,
    at: now,
  });
  await enqueueOrderTimers(id, timers, deps);
  deps.log?.info({ orderId: id, itemCode: place.item.code }, 'service order placed');
  const r = (await reconcileOrder(id, deps))!;
  return toOrderView(r);
}

/**
 * Storage of service orders: events by slot (primary-key reads only), wake-ups, and the state
 * derived from them. No decisions here; the reconcile and the commands decide.
 */
import { randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { isDuplicateKeyError } from '../../platform/errors';
import {
  deriveOrderState,
  FIXED_ORDER_SLOTS,
  orderSlots,
  type OrderEvent,
  type OrderState,
} from './service-order-state';
import {
  OrderWakeup,
  ServiceOrder,
  ServiceOrderEvent,
  type OrderWakeupDoc,
  type ServiceOrderDoc,
  type ServiceOrderEventDoc,
} from './service-orders.model';

/** A rating's guard becomes due this long after the rating began (it has crashed by then). */
export const ORDER_GUARD_MS = 60_000;

export const orderEventId = (orderId: string, slot: string): string => `${orderId}:${slot}`;

export async function findOrder(orderId: string): Promise<ServiceOrderDoc | undefined> {
  if (!Types.ObjectId.isValid(orderId)) return undefined;
  return (await ServiceOrder.findById(orderId).lean<ServiceOrderDoc>()) ?? undefined;
}

/** Where an event falls among events of the same instant. */
const EVENT_ORDER: Record<ServiceOrderEventDoc['type'], number> = {
  ordered: 0,
  reminded: 1,
  dispatched: 2,
  escalated: 3,
  accepted: 3,
  completed: 4,
  rated: 5,
  hours_recorded: 6,
  filed: 7,
};

/**
 * An order's events, each read by its primary key: the fixed slots, then one `filed-` slot per
 * volunteer of the completion (a dozen look-ups; no scan on any backend).
 */
export async function loadOrderEvents(orderId: string): Promise<ServiceOrderEventDoc[]> {
  const read = (slot: string) =>
    ServiceOrderEvent.findById(orderEventId(orderId, slot)).lean<ServiceOrderEventDoc>();
  const fixed = (await Promise.all(FIXED_ORDER_SLOTS.map(read))).filter(
    (e): e is ServiceOrderEventDoc => Boolean(e),
  );
  const completed = fixed.find((e) => e.slot === orderSlots.completed);
  const filed = completed?.hours
    ? (await Promise.all(completed.hours.map((h) => read(orderSlots.filed(h.volunteerId))))).filter(
        (e): e is ServiceOrderEventDoc => Boolean(e),
      )
    : [];
  return [...fixed, ...filed].sort(
    (a, b) =>
      a.at.getTime() - b.at.getTime() ||
      EVENT_ORDER[a.type] - EVENT_ORDER[b.type] ||
      a.slot.localeCompare(b.slot),
  );
}

export function toOrderEvent(e: ServiceOrderEventDoc): OrderEvent {
  const s: OrderEvent = { slot: e.slot, type: e.type, at: e.at };
  for (const k of [
    'round',
    'teamId',
    'volunteerIds',
    'hours',
    'servedOn',
    'stars',
    'volunteerId',
  ] as const) {
    if (e[k] !== undefined && e[k] !== null) (s as unknown as Record<string, unknown>)[k] = e[k];
  }
  return s;
}

export function stateOf(
  order: ServiceOrderDoc,
  events: readonly ServiceOrderEventDoc[],
  now = clock.now(),
): OrderState {
  return deriveOrderState(events.map(toOrderEvent), {
    now,
    remindAt: order.remindAt,
    timeoutAt: order.timeoutAt,
  });
}

export type NewOrderEvent = Omit<ServiceOrderEventDoc, '_id' | 'orderId' | 'at'> & { at?: Date };

/** Fills a slot; undefined when another writer filled it first. */
export async function insertOrderEvent(
  orderId: string,
  e: NewOrderEvent,
): Promise<ServiceOrderEventDoc | undefined> {
  const doc = {
    ...e,
    _id: orderEventId(orderId, e.slot),
    orderId,
    at: e.at ?? clock.now(),
  };
  try {
    await ServiceOrderEvent.create([doc]);
    return doc;
  } catch (err) {
    if (isDuplicateKeyError(err)) return undefined;
    throw err;
  }
}

export const wakeupIdOf = (kind: 'remind' | 'timeout', orderId: string) => `${kind}-${orderId}`;

export async function ensureOrderWakeup(w: Omit<OrderWakeupDoc, 'failures'>): Promise<void> {
  try {
    await OrderWakeup.create([{ ...w, failures: 0 }]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
  }
}

export async function deleteOrderWakeup(id: string): Promise<void> {
  await OrderWakeup.deleteOne({ _id: id });
}

/** Opens a guard the sweeper acts on if this request dies before it is closed. */
export async function openOrderGuard(orderId: string): Promise<string> {
  const id = `guard-${randomBytes(12).toString('hex')}`;
  await OrderWakeup.create([
    {
      _id: id,
      orderId,
      kind: 'guard',
      at: new Date(clock.now().getTime() + ORDER_GUARD_MS),
      failures: 0,
    },
  ]);
  return id;
}

/** Refreshes the cached state (a blind write; the events always win, and reads repair it). */
export async function updateOrderCache(order: ServiceOrderDoc, state: OrderState): Promise<void> {
  const hoursTotal = state.hours.reduce((a, h) => a + h.hours, 0);
  const wanted: Record<string, unknown> = {
    status: state.status,
    round: state.round,
    teamId: state.teamId,
    acceptedAt: state.acceptedAt,
    completedAt: state.completedAt,
    ratedAt: state.ratedAt,
    escalatedAt: state.escalatedAt,
    stars: state.stars,
    hoursTotal: state.hours.length ? hoursTotal : undefined,
  };
  const set: Record<string, unknown> = {};
  const unset: Record<string, 1> = {};
  for (const [k, v] of Object.entries(wanted)) {
    const had = (order as unknown as Record<string, unknown>)[k];
    const same =
      v instanceof Date && had instanceof Date
        ? v.getTime() === had.getTime()
        : v === had || (v === undefined && (had === undefined || had === null));
    if (same) continue;
    if (v === undefined) unset[k] = 1;
    else set[k] = v;
  }
  if (!Object.keys(set).length && !Object.keys(unset).length) return;
  await ServiceOrder.updateOne(
    { _id: order._id },
    {
      ...(Object.keys(set).length ? { $set: set } : {}),
      ...(Object.keys(unset).length ? { $unset: unset } : {}),
    },
  );
}

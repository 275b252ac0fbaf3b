/**
 * Pricing a basket: everything checked before anything is taken (the card and the store serving
 * its village, the items and their prices, the offline time, the daily limit in force, the PIN),
 * giving the redemption record the request then writes once.
 */
import { clock } from '../../platform/clock';
import { DomainError, notFound, type FieldError } from '../../platform/errors';
import { POINTS_ABS_MAX } from '../../platform/validation';
import { cardHolderGuess, findHouseholdByCard } from '../households/households.service';
import { warmHead } from '../ledger/ledger.service';
import { findItemsBySkus, warmStock } from '../stores/items.service';
import { findStore } from '../stores/stores.service';
import { findVillage } from '../villages/villages.service';
import { checkCardPin, warmCardPin } from './pin.service';
import { shanghaiDay } from './receipt';
import type { RedemptionLine } from './redemption.model';
import type { FullRedemption } from './redemption.views';
import type { Counter, RedeemInput } from './steps';

/** Offline uploads may be this old: a counter offline for longer is a case for the county office. */
export const OFFLINE_AGE_MAX_MS = 30 * 24 * 60 * 60 * 1000;
/** Clock skew tolerated on a terminal's offline time. */
export const OFFLINE_SKEW_MS = 5 * 60 * 1000;

/**
 * The household behind a card: the households module's card index (`_id` look-ups, held in
 * process like configuration, each checked against the household's own card number).
 */
export const householdOfCard = findHouseholdByCard;

/** The basket's lines at the store's prices (one line per SKU), or `validation_failed`. */
async function priceLines(storeId: string, input: RedeemInput): Promise<RedemptionLine[]> {
  const merged = new Map<string, number>();
  for (const { sku, qty } of input.items) merged.set(sku, (merged.get(sku) ?? 0) + qty);
  const items = await findItemsBySkus(storeId, [...merged.keys()]);
  const errors: FieldError[] = [];
  input.items.forEach((line, i) => {
    if (!items.has(line.sku))
      errors.push({ path: `items.${i}.sku`, message: 'no such item in this store' });
  });
  if (errors.length)
    throw new DomainError('validation_failed', 'Some items are not sold in this store.', {
      errors,
    });
  return [...merged].map(([sku, qty]) => {
    const item = items.get(sku)!;
    return {
      itemId: item._id,
      sku,
      name: item.name,
      qty,
      pointsEach: item.points,
      points: item.points * qty,
    };
  });
}

/** The basket's total, refused when it passes what one entry may carry. */
function totalOf(lines: RedemptionLine[]): number {
  const points = lines.reduce((sum, l) => sum + l.points, 0);
  if (points > POINTS_ABS_MAX) {
    throw new DomainError('validation_failed', 'The basket is too large.', {
      errors: [{ path: 'items', message: 'total points too large' }],
    });
  }
  return points;
}

/** An offline time may be neither in the future (beyond the skew) nor older than the maximum. */
function checkOfflineTime(offlineAt: Date | undefined, now: Date): void {
  if (!offlineAt) return;
  const t = offlineAt.getTime();
  if (t > now.getTime() + OFFLINE_SKEW_MS || t < now.getTime() - OFFLINE_AGE_MAX_MS) {
    throw new DomainError('validation_failed', 'The offline time is in the future or too old.', {
      errors: [{ path: 'offlineAt', message: 'out of range' }],
    });
  }
}

/** A settled read's value, or its error thrown. */
function valueOf<T>(read: PromiseSettledResult<T>): T {
  if (read.status === 'rejected') throw read.reason;
  return read.value;
}

/**
 * Reads into memory what the carrying out and the checks read first about a household: its
 * ledger head (a hint: the unique index still decides) and its PIN record. Reads only, so they
 * may begin on the card index's word, before the household is checked. A failed read is left to
 * the step itself, which reads again. The day's allowance head is not read: a chain this process
 * knows nothing of is taken to be empty (allowance.ts).
 */
async function warmHousehold(householdId: string): Promise<void> {
  await Promise.allSettled([warmHead(householdId), warmCardPin(householdId)]);
}

/** Each line's stock head into memory (reads only, as warmHousehold). */
async function warmLines(lines: readonly RedemptionLine[]): Promise<void> {
  await Promise.allSettled(lines.map((l) => warmStock(l.itemId)));
}

/** A priced basket before its key's claim is known (readBasket). */
export type BasketRead = Omit<FullRedemption, '_id' | 'claimId'>;

/**
 * Everything checked before anything is taken but the PIN: the card, the store serving its
 * village, the items and prices, the offline time. Reads only, so it may run while the key is
 * being claimed (redeem starts it first): a new card's reads then go beside the claim's writes
 * instead of after them, and a request that loses the claim has read for nothing. The reads go
 * side by side (the store, the card's household and the items; then the village beside the heads
 * the carrying out will read), and a refusal is the one the checks give in that order, as when
 * they ran one after another. The household's heads and PIN record are read as soon as the card
 * index names it, beside the household's own read; should the index have named another
 * household, the right one's are read after the check.
 */
export async function readBasket(counter: Counter, input: RedeemInput): Promise<BasketRead> {
  const early = cardHolderGuess(input.cardNo).then(
    async (guess) => {
      if (guess) await warmHousehold(guess);
      return guess;
    },
    () => undefined,
  );
  const [storeRead, householdRead, linesRead] = await Promise.allSettled([
    findStore(counter.storeId),
    householdOfCard(input.cardNo),
    priceLines(counter.storeId, input),
  ]);
  const store = valueOf(storeRead);
  if (!store) throw notFound('store');
  const household = valueOf(householdRead);
  if (!household || !store.villageIds.includes(household.villageId)) throw notFound('card');
  const lines = valueOf(linesRead);
  const points = totalOf(lines);
  const now = clock.now();
  checkOfflineTime(input.offlineAt, now);
  const occurredAt = input.offlineAt ?? now;
  const householdId = household._id.toHexString();
  const day = shanghaiDay(occurredAt);
  const warmed = async () => {
    if ((await early) !== householdId) await warmHousehold(householdId);
  };
  const [village] = await Promise.all([
    findVillage(household.villageId),
    warmed(),
    warmLines(lines),
  ]);
  const limit = village?.policy.redemptionDailyLimit;
  return {
    storeId: counter.storeId,
    terminalId: counter.terminalId,
    key: input.key,
    storeName: store.name,
    householdId,
    villageId: household.villageId,
    cardNo: household.cardNo,
    lines,
    points,
    ...(typeof limit === 'number' ? { dailyLimit: limit } : {}),
    tracksAllowance: true,
    occurredAt,
    day,
    ...(input.offlineAt ? { offlineAt: input.offlineAt } : {}),
    createdAt: now,
  };
}

/**
 * The basket read (readBasket, started before the claim) with the PIN checked last, once the
 * key's claim is won: only a real basket of the claim's own request counts an attempt.
 */
export async function priceBasket(
  read: Promise<BasketRead>,
  input: RedeemInput,
  claimId: string,
): Promise<Omit<FullRedemption, '_id'>> {
  const basket = await read;
  // Its PIN record was read with the household's heads (config-cache.ts joins the two reads).
  await checkCardPin(basket.householdId, input.pin);
  return { ...basket, claimId };
}

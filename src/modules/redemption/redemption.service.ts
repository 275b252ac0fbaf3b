/**
 * Redemption at the points supermarket (公益超市): a terminal takes points for goods, once,
 * however often it retries, and without multi-document transactions.
 *
 * Invariants (tested in test/modules/redemption):
 * - R1 one Idempotency-Key (per terminal) spends at most once. The key's claim is inserted
 *   first, its `_id` (terminal, key, generation) being the lock; only the winner works. A
 *   duplicate replays the stored response (same status, same body), waits for it while the
 *   first is in flight, or gets `conflict` after IN_FLIGHT_WAIT_MS; the same key with another
 *   body is `idempotency_key_reused`. Refusals (`insufficient_points`, `out_of_stock`,
 *   `daily_limit_exceeded`) are stored and replayed like successes. Keys are kept forever.
 * - R2 points and goods agree: a redemption is `confirmed` exactly when its ledger entry exists
 *   (source `redemption`:id), and then every line's stock take exists; it is `failed` only when
 *   no such entry exists or ever can, and then every take is given back.
 * - R3 stock never below 0, spendable never below 0, the daily limit never exceeded: each is the
 *   head of an append-only chain whose unique (chain, seq) arbitrates races (the ledger's own
 *   chain for points; platform/append-chain.ts for stock and the daily allowance). Every
 *   redemption adds to its day's allowance chain, limit or not, so a limit set mid-day counts
 *   the day's spending from its start.
 * - R4 a terminal reaches only its own store's redemptions (others: `not_found`) and redeems
 *   only cards of villages its store serves (others: `not_found`, so that a card's existence
 *   elsewhere is not revealed).
 * - R5 a reversal (same store, same Asia/Shanghai day) returns points and stock once, however
 *   many arrive at once: its ledger entry's source is (`reversal`, id) and each give-back is
 *   source-unique.
 * - R6 recovery takes over only requests that are not alive (liveness.ts): under load a request
 *   waits, it is not rolled back.
 *
 * The state machine. Every step is an insert guarded by a unique key, so it is idempotent; a
 * crash can stop between any two steps, and recovery (`recoverRedemptions`) takes it from there.
 *
 *   in-flight marker ─► claim key ─► record redemption ─► take allowance ─► take stock ─► post ledger entry
 *                       (pending)    (basket, prices)     (the day's        (per line;    (insufficient?)
 *                                                          spending; limit?) out_of_stock?)     │
 *                                                                                               ▼
 *                                              settled=confirmed ─► key done (201 stored) ─► marker gone
 *   any refusal ─► settled=failed(code) ─► give back takes ─► [flag if offline] ─► key done (409 stored) ─► marker gone
 *   refused before the record (card, items, PIN) ─► key dropped (nothing stored; the key may be reused)
 *
 *   Reversal: work marker ─► post `reversal` entry ─► give back takes ─► reversed event ─► marker gone
 *
 * Recovery, for an in-flight marker older than RECOVERY_AGE_MS whose request is not alive
 * (liveness.ts: each marker names its owner process, which vouches for the requests it is still
 * working on through a lease it renews; a request queued behind others of the same card is alive
 * however long it waits; a crashed request, SIGKILLed or thrown, is not):
 * - no redemption record: write a tombstone under its id (so the request, should it wake, can
 *   never record it) and drop the key: nothing was taken; a retry with the key starts afresh.
 * - recorded, not settled: post a zero `void` entry under the redemption's ledger source. The
 *   ledger's unique source makes this the commit point: if the real entry is there already, the
 *   void returns it and the redemption rolls FORWARD (settled=confirmed, 201 stored). Otherwise
 *   the void now holds the source, the real entry can never be posted, and the redemption rolls
 *   BACK: settled=failed(`abandoned`), every take fenced with a zero `void` take (so a stuck
 *   request waking up can take nothing more), what was taken given back, and the key dropped so
 *   the terminal's retry runs afresh. The household sees a 0-point entry 「兑换中断，未扣积分」:
 *   the price of deciding without a transaction, and an honest one.
 * - settled: finish the tail (give-backs for a refusal, flag, stored response).
 * A request that finds one of its takes voided knows recovery rolled it back and answers 409
 * `conflict` (send it again). Reversals in progress are finished from their work markers.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { Types } from 'mongoose';
import { AppendChain } from '../../platform/append-chain';
import { clock } from '../../platform/clock';
import { ConfigCache } from '../../platform/config-cache';
import { redemptionFaults, redemptionTuning } from '../../platform/faults';
import {
  DomainError,
  forbidden,
  isDuplicateKeyError,
  notFound,
  statusOf,
  type ErrorCode,
  type FieldError,
} from '../../platform/errors';
import { problemBody } from '../../platform/http';
import type { Principal } from '../../platform/principal';
import { cutText } from '../../platform/text';
import { POINTS_ABS_MAX } from '../../platform/validation';
import { findHousehold, findHouseholdByCard } from '../households/households.service';
import { postEntry } from '../ledger/ledger.service';
import {
  fenceStockTake,
  findItemsBySkus,
  giveBackStock,
  takeStock,
  type TakeResult,
} from '../stores/items.service';
import { findStore } from '../stores/stores.service';
import { findVillage } from '../villages/villages.service';
import { flagOffline } from './flags.service';
import {
  findEvent,
  idOf,
  isFull,
  receiptNoOf,
  redemptionInReach,
  responseOf,
  toReversalView,
  type FullRedemption,
  type ReversalView,
} from './redemption.views';
import {
  holdRequest,
  IN_FLIGHT_WAIT_MS,
  isLive,
  OWNER_ID,
  pruneLeases,
  RECOVERY_AGE_MS,
  releaseRequest,
} from './liveness';
import { checkCardPin } from './pin.service';
import { shanghaiDay } from './receipt';
import {
  AllowanceLink,
  CardLookup,
  Inflight,
  Redemption,
  RedemptionEvent,
  RedemptionKey,
  RedemptionWork,
  type AllowanceLinkDoc,
  type CardLookupDoc,
  type InflightDoc,
  type RedemptionDoc,
  type RedemptionEventDoc,
  type RedemptionKeyDoc,
  type RedemptionLine,
  type StoredResponse,
} from './redemption.model';

/** Offline uploads may be this old: a counter offline for longer is a case for the county office. */
export const OFFLINE_AGE_MAX_MS = 30 * 24 * 60 * 60 * 1000;
/** Clock skew tolerated on a terminal's offline time. */
export const OFFLINE_SKEW_MS = 5 * 60 * 1000;
/** Records recovery reads per batch. */
const RECOVERY_BATCH = 100;

export { IN_FLIGHT_WAIT_MS, RECOVERY_AGE_MS } from './liveness';

export type RedeemStep =
  | 'claimed'
  | 'recorded'
  | 'allowanceTaken'
  | 'stockTaken'
  | 'ledgerPosted'
  | 'settled'
  | 'compensated'
  | 'reversalPosted'
  | 'reversalReturned';

const stepDone = async (step: RedeemStep, redemptionId: string) => {
  await redemptionFaults.after?.(step, redemptionId);
};

/** The refusals a redemption stores and replays (R1); anything else is not an outcome. */
const REFUSALS: readonly ErrorCode[] = [
  'insufficient_points',
  'out_of_stock',
  'daily_limit_exceeded',
];
const ABANDONED = 'abandoned';
const VOID_REASON = '兑换中断，未扣积分';

const allowance = new AppendChain<AllowanceLinkDoc>(AllowanceLink, 'allowance');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ─── Who is calling ──────────────────────────────────────────────────────────────────────

interface Counter {
  terminalId: string;
  storeId: string;
}

function counterOf(p: Principal): Counter {
  if (p.role !== 'terminal' || !p.storeId) throw forbidden('Only a store terminal redeems.');
  return { terminalId: p.id, storeId: p.storeId };
}

// ─── Idempotency keys ────────────────────────────────────────────────────────────────────

export interface BasketInput {
  cardNo: string;
  items: { sku: string; qty: number }[];
  pin?: string;
}

export interface RedeemInput extends BasketInput {
  key: string;
  /** Set for an offline upload: when the goods changed hands at the counter. */
  offlineAt?: Date;
}

/**
 * SHA-256 of the canonical (RFC 8785) request. The PIN is left out: a hash of a 4–6 digit PIN
 * with a known body is trivially reversed, and a replay is answered from storage anyway.
 */
export function fingerprintOf(input: RedeemInput): string {
  const canonical = canonicalize({
    cardNo: input.cardNo,
    items: input.items.map((i) => ({ sku: i.sku, qty: i.qty })),
    ...(input.offlineAt ? { offlineAt: input.offlineAt.toISOString() } : {}),
  });
  assert.ok(canonical !== undefined);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

type Claim = { claim: RedemptionKeyDoc } | { replay: StoredResponse };

/**
 * Claims the key, or answers from the claim already there (R1). While another request holds
 * the key and works, this waits (polling, so it works across processes) up to the in-flight
 * wait; a claim pending for longer than the recovery age is recovered first.
 */
async function claimKey(counter: Counter, key: string, fingerprint: string): Promise<Claim> {
  const deadline = Date.now() + (redemptionTuning.inFlightWaitMs ?? IN_FLIGHT_WAIT_MS);
  let pollMs = 10;
  let generation = 0;
  // A new key is the common case: claim it first and look only when the claim is refused.
  let look = false;
  for (;;) {
    const claimId = `${counter.terminalId}:${key}#${generation}`;
    const existing = look ? await RedemptionKey.findById(claimId).lean<RedemptionKeyDoc>() : null;
    look = true;
    if (existing?.status === 'dropped') {
      generation++; // that attempt spent nothing and is over: the key's next generation is free
      continue;
    }
    if (!existing) {
      const redemptionId = new Types.ObjectId().toHexString();
      // Held (alive) before its marker exists, and the marker before the claim, so that recovery
      // sees every claim that may exist and knows whether its request still lives.
      holdRequest(redemptionId);
      try {
        await Inflight.create([
          { _id: redemptionId, keyId: claimId, owner: OWNER_ID, createdAt: new Date() },
        ]);
      } catch (err) {
        releaseRequest(redemptionId);
        throw err;
      }
      try {
        const [doc] = await RedemptionKey.create([
          {
            _id: claimId,
            terminalId: counter.terminalId,
            key,
            generation,
            fingerprint,
            redemptionId,
            status: 'pending',
            createdAt: new Date(),
          },
        ]);
        return { claim: doc!.toObject() };
      } catch (err) {
        await Inflight.deleteOne({ _id: redemptionId });
        releaseRequest(redemptionId);
        if (!isDuplicateKeyError(err)) throw err;
        continue; // another request claimed this generation first: answer from its claim
      }
    }
    if (existing.fingerprint !== fingerprint) {
      throw new DomainError(
        'idempotency_key_reused',
        'This Idempotency-Key was used for a different redemption.',
      );
    }
    if (existing.status === 'done') {
      assert.ok(existing.response, 'a done key has its response');
      return { replay: existing.response };
    }
    if (
      Date.now() - existing.createdAt.getTime() >=
        (redemptionTuning.staleAfterMs ?? RECOVERY_AGE_MS) &&
      !(await claimAlive(existing))
    ) {
      await recoverClaim(existing);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new DomainError(
        'idempotency_key_in_flight',
        'A request with this Idempotency-Key is still in progress; retry shortly.',
        { retryAfterS: 1 },
      );
    }
    await sleep(pollMs);
    pollMs = Math.min(pollMs * 2, 200);
  }
}

/** Whether the request that holds a claim is still alive (liveness.ts). */
async function claimAlive(claim: RedemptionKeyDoc): Promise<boolean> {
  const marker = await Inflight.findById(claim.redemptionId).lean<InflightDoc>();
  return !!marker && (await isLive(marker, redemptionTuning.staleAfterMs ?? RECOVERY_AGE_MS));
}

/**
 * Completes a settled redemption's claim with its response (deterministic: any writer agrees),
 * then forgets the in-flight marker. The claim belongs to this attempt alone, so the update by
 * `_id` cannot touch another attempt's.
 */
async function completeKey(
  r: FullRedemption,
  response: StoredResponse,
  byRequest = false,
): Promise<void> {
  if (byRequest) {
    // The request that holds the claim: it is pending, or recovery (having wrongly taken the
    // request for dead) rolled the same settled redemption forward and stored this very
    // response. A roll-back or a drop never lets the request get here (its takes or its ledger
    // source are voided, or the settled event is `abandoned`), so no look first.
    await RedemptionKey.updateOne(
      { _id: r.claimId },
      { $set: { status: 'done', response, completedAt: new Date() } },
    );
    await Inflight.deleteOne({ _id: idOf(r) });
    return;
  }
  const doc = await RedemptionKey.findById(r.claimId).lean<RedemptionKeyDoc>();
  if (doc && doc.status === 'pending') {
    assert.equal(doc.redemptionId, idOf(r));
    await RedemptionKey.updateOne(
      { _id: doc._id },
      { $set: { status: 'done', response, completedAt: new Date() } },
    );
  }
  await Inflight.deleteOne({ _id: idOf(r) });
}

/**
 * Ends an attempt that spent nothing (refused before it began, or rolled back by recovery): its
 * claim is marked dropped, so a retry with the key claims the next generation and starts afresh.
 */
async function dropKey(claimId: string, redemptionId: string): Promise<void> {
  const doc = await RedemptionKey.findById(claimId).lean<RedemptionKeyDoc>();
  if (doc && doc.status === 'pending') {
    assert.equal(doc.redemptionId, redemptionId);
    await RedemptionKey.updateOne(
      { _id: doc._id },
      { $set: { status: 'dropped', completedAt: new Date() } },
    );
  }
  await Inflight.deleteOne({ _id: redemptionId });
}

/** Card number → household, in process too (config-cache; checked against the household anyway). */
const cardLookups = new ConfigCache<CardLookupDoc>('card lookups', false);

/**
 * The household behind a card, by `_id` look-ups: a cache from card number to household that is
 * checked against the household itself on every use, falling back to the households module's
 * search (a scan on FerretDB) when the cache is empty or stale.
 */
export async function householdOfCard(cardNo: string) {
  const cached = await cardLookups.get(
    cardNo,
    async () => (await CardLookup.findById(cardNo).lean<CardLookupDoc>()) ?? undefined,
  );
  if (cached) {
    const h = await findHousehold(cached.householdId);
    if (h && h.cardNo === cardNo) return h;
  }
  const h = await findHouseholdByCard(cardNo);
  if (h) {
    await CardLookup.updateOne(
      { _id: cardNo },
      { $set: { householdId: h._id.toHexString() } },
      { upsert: true },
    ).catch((err: unknown) => {
      if (!isDuplicateKeyError(err)) throw err;
    });
  }
  return h;
}

// ─── Pricing a basket ────────────────────────────────────────────────────────────────────

/**
 * Everything checked before anything is taken: the card, the store serving its village, the
 * items and prices, the offline time and the PIN (last, so only a real basket counts an attempt).
 */
async function priceBasket(
  counter: Counter,
  input: RedeemInput,
  claimId: string,
): Promise<Omit<FullRedemption, '_id'>> {
  const store = await findStore(counter.storeId);
  if (!store) throw notFound('store');
  const household = await householdOfCard(input.cardNo);
  if (!household || !store.villageIds.includes(household.villageId)) throw notFound('card');

  const merged = new Map<string, number>();
  for (const { sku, qty } of input.items) merged.set(sku, (merged.get(sku) ?? 0) + qty);
  const items = await findItemsBySkus(counter.storeId, [...merged.keys()]);
  const errors: FieldError[] = [];
  input.items.forEach((line, i) => {
    if (!items.has(line.sku))
      errors.push({ path: `items.${i}.sku`, message: 'no such item in this store' });
  });
  if (errors.length)
    throw new DomainError('validation_failed', 'Some items are not sold in this store.', {
      errors,
    });
  const lines: RedemptionLine[] = [...merged].map(([sku, qty]) => {
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
  const points = lines.reduce((sum, l) => sum + l.points, 0);
  if (points > POINTS_ABS_MAX) {
    throw new DomainError('validation_failed', 'The basket is too large.', {
      errors: [{ path: 'items', message: 'total points too large' }],
    });
  }

  const now = clock.now();
  if (input.offlineAt) {
    const t = input.offlineAt.getTime();
    if (t > now.getTime() + OFFLINE_SKEW_MS || t < now.getTime() - OFFLINE_AGE_MAX_MS) {
      throw new DomainError('validation_failed', 'The offline time is in the future or too old.', {
        errors: [{ path: 'offlineAt', message: 'out of range' }],
      });
    }
  }
  const village = await findVillage(household.villageId);
  const limit = village?.policy.redemptionDailyLimit;
  await checkCardPin(household._id.toHexString(), input.pin);
  const occurredAt = input.offlineAt ?? now;
  return {
    storeId: counter.storeId,
    terminalId: counter.terminalId,
    key: input.key,
    claimId,
    storeName: store.name,
    householdId: household._id.toHexString(),
    villageId: household.villageId,
    cardNo: household.cardNo,
    lines,
    points,
    ...(typeof limit === 'number' ? { dailyLimit: limit } : {}),
    tracksAllowance: true,
    occurredAt,
    day: shanghaiDay(occurredAt),
    ...(input.offlineAt ? { offlineAt: input.offlineAt } : {}),
    createdAt: now,
  };
}

// ─── Steps ───────────────────────────────────────────────────────────────────────────────

const allowanceChain = (r: FullRedemption) => `${r.householdId}:${r.storeId}:${r.day}`;

/** Whether the redemption counts against the day's allowance chain (every one made since it always does). */
const tracksAllowance = (r: FullRedemption) =>
  r.dailyLimit !== undefined || r.tracksAllowance === true;

/**
 * Adds the redemption to the day's spending at this store, refusing it when a limit is set and
 * the day's spending (every redemption of the day, made before or after the limit was set)
 * would pass it.
 */
async function takeAllowance(r: FullRedemption): Promise<TakeResult> {
  const limit = r.dailyLimit;
  const { link } = await allowance.append(
    allowanceChain(r),
    { type: 'take', id: idOf(r) },
    (head) => {
      const used = head?.usedAfter ?? 0;
      if (limit !== undefined && used + r.points > limit) {
        throw new DomainError(
          'daily_limit_exceeded',
          `At most ${limit} points a day may be redeemed at this store; ${used} already used today.`,
          {
            limit,
            usedToday: used,
          },
        );
      }
      return { kind: 'take', delta: r.points, usedAfter: used + r.points };
    },
    { fresh: true }, // the request's own take under the redemption id it claimed
  );
  return link.kind === 'void' ? { state: 'voided' } : { state: 'taken', qty: link.delta };
}

async function fenceAllowance(r: FullRedemption): Promise<void> {
  await allowance.append(allowanceChain(r), { type: 'take', id: idOf(r) }, (head) => ({
    kind: 'void',
    delta: 0,
    usedAfter: head?.usedAfter ?? 0,
  }));
}

async function giveBackAllowance(r: FullRedemption, surely: boolean): Promise<void> {
  const taken = await allowance.findBySource({ type: 'take', id: idOf(r) }, surely);
  if (!taken || taken.kind !== 'take') return;
  const { link } = await allowance.append(
    allowanceChain(r),
    { type: 'give', id: idOf(r) },
    (head) => {
      // While this take is in the chain and not given back, the day's total includes it. A total
      // below it means a concurrent give-back of this redemption (another process's reversal) is
      // already in the chain: the source index then refuses this link and append returns that one.
      const used = head?.usedAfter ?? 0;
      return { kind: 'give', delta: -taken.delta, usedAfter: used - taken.delta };
    },
  );
  assert.ok(
    link.kind === 'give' && link.delta === -taken.delta && link.usedAfter >= 0,
    'allowance given back at most once',
  );
}

/**
 * How a redemption's takes are given back: after a refusal (only what was taken), in recovery's
 * roll-back (first fence every take, since the request may still be running), or in a reversal
 * (every take surely happened: find it even if a crash left its source pointer unwritten).
 */
type GiveBackMode = 'refused' | 'rollBack' | 'reversal';
const GIVE_BACK_REASON: Record<GiveBackMode, string> = {
  refused: '兑换未成，退回库存',
  rollBack: '兑换中断，退回库存',
  reversal: '撤销兑换，退回库存',
};

/** Gives back whatever the redemption took (stock per line, allowance), each once. */
async function giveBackTakes(r: FullRedemption, mode: GiveBackMode): Promise<void> {
  const rid = idOf(r);
  for (const line of r.lines) {
    if (mode === 'rollBack') await fenceStockTake(line.itemId, rid);
    await giveBackStock(line.itemId, rid, GIVE_BACK_REASON[mode], mode === 'reversal');
  }
  if (tracksAllowance(r)) {
    if (mode === 'rollBack') await fenceAllowance(r);
    await giveBackAllowance(r, mode === 'reversal');
  }
}

/** Inserts the settled event, or returns the one already there: the first decision wins. */
async function settle(
  rid: string,
  event: Omit<RedemptionEventDoc, '_id' | 'redemptionId' | 'stage' | 'at'>,
): Promise<RedemptionEventDoc> {
  try {
    const [doc] = await RedemptionEvent.create([
      { ...event, _id: `${rid}:settled`, redemptionId: rid, stage: 'settled', at: new Date() },
    ]);
    return doc!.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    return (await findEvent(rid, 'settled'))!;
  }
}

/** Longest reason of a redemption entry, in code points; a long basket ends in “…”. */
export const REDEMPTION_REASON_MAX = 200;

/** The entry's reason, from the item names: cut between whole characters (platform/text.ts T2). */
export function redemptionReason(r: Pick<FullRedemption, 'lines'>): string {
  const text = `积分兑换：${r.lines.map((l) => `${l.name}×${l.qty}`).join('、')}`;
  return cutText(text, REDEMPTION_REASON_MAX);
}

/** Finishes a settled redemption: give-backs for a refusal, flag if offline, stored response. */
async function finishSettled(
  r: FullRedemption,
  settled: RedemptionEventDoc,
  byRequest = false,
): Promise<StoredResponse> {
  const response = responseOf(r, settled);
  if (settled.status === 'failed') {
    await giveBackTakes(r, 'refused');
    await stepDone('compensated', idOf(r));
    if (r.offlineAt) {
      await flagOffline({
        storeId: r.storeId,
        terminalId: r.terminalId,
        key: r.key,
        cardNo: r.cardNo,
        items: r.lines.map((l) => ({ sku: l.sku, qty: l.qty })),
        offlineAt: r.offlineAt,
        code: settled.code!,
        detail: settled.detail ?? '',
        redemptionId: idOf(r),
        householdId: r.householdId,
        points: r.points,
      });
    }
  }
  await completeKey(r, response, byRequest);
  return response;
}

/** What a request answers when recovery rolled its redemption back (nothing spent; not stored). */
function abandonedError(): DomainError {
  return new DomainError(
    'redemption_interrupted',
    'This redemption was interrupted and cancelled; nothing was spent. Send it again.',
    { retryAfterS: 1 },
  );
}

/** Recovery's roll-back tail: fence and give back every take, then drop the key. */
async function rollBack(r: FullRedemption): Promise<void> {
  await giveBackTakes(r, 'rollBack');
  await dropKey(r.claimId, idOf(r));
}

/** The request's path through the state machine, after its redemption is recorded. */
async function carryOut(r: FullRedemption): Promise<StoredResponse> {
  const rid = idOf(r);
  let settled: RedemptionEventDoc;
  try {
    if (tracksAllowance(r)) {
      if ((await takeAllowance(r)).state === 'voided') return await onVoided(r);
      await stepDone('allowanceTaken', rid);
    }
    for (const line of r.lines) {
      let taken: TakeResult;
      try {
        taken = await takeStock(line.itemId, rid, line.qty);
      } catch (err) {
        if (err instanceof DomainError && err.code === 'out_of_stock') {
          throw new DomainError('out_of_stock', `Not enough stock of ${line.sku} (${line.name}).`, {
            ...err.details,
            sku: line.sku,
          });
        }
        throw err;
      }
      if (taken.state === 'voided') return await onVoided(r);
    }
    await stepDone('stockTaken', rid);
    const { entry } = await postEntry({
      householdId: r.householdId,
      type: 'redemption',
      points: -r.points,
      spendableDelta: -r.points,
      meritDelta: 0,
      shortfall: 'reject',
      source: { type: 'redemption', id: rid },
      reason: redemptionReason(r),
    });
    if (entry.spendableDelta === 0) return await onVoided(r);
    await stepDone('ledgerPosted', rid);
    settled = await settle(rid, {
      status: 'confirmed',
      entrySeq: entry.seq,
      spendableAfter: entry.spendableAfter,
      by: 'request',
    });
    // Recovery never fails a redemption whose ledger entry exists (it rolls those forward).
    assert.equal(settled.status, 'confirmed', 'R2: a posted redemption is confirmed');
  } catch (err) {
    if (!(err instanceof DomainError) || !REFUSALS.includes(err.code)) throw err;
    const { retryAfterS: _r, ...details } = err.details;
    settled = await settle(rid, {
      status: 'failed',
      code: err.code,
      detail: err.message,
      details,
      by: 'request',
    });
    assert.equal(settled.status, 'failed', 'R2: a refused redemption never confirms');
    if (settled.code === ABANDONED) return onVoided(r);
  }
  await stepDone('settled', rid);
  return finishSettled(r, settled, true);
}

/** A take came back voided: recovery rolled this redemption back while the request was stuck. */
async function onVoided(r: FullRedemption): Promise<never> {
  await giveBackTakes(r, 'rollBack');
  throw abandonedError();
}

// ─── Redeem ──────────────────────────────────────────────────────────────────────────────

/**
 * Redeems a basket for a card at the calling terminal's store, once per Idempotency-Key (R1).
 * Returns the response to send (a 201 view, or a stored 409 refusal, the same on every replay).
 * Throws, storing nothing, for what is refused before anything is taken: unknown card or one of
 * a village the store does not serve (`not_found`), unknown items, PIN problems — except for an
 * offline upload, whose refusals are stored and flagged since the goods have already gone.
 */
export async function redeem(p: Principal, input: RedeemInput): Promise<StoredResponse> {
  const counter = counterOf(p);
  const claimed = await claimKey(counter, input.key, fingerprintOf(input));
  if ('replay' in claimed) return claimed.replay;
  const claim = claimed.claim;
  try {
    return await redeemClaimed(counter, input, claim);
  } finally {
    // Returned or thrown: this request no longer vouches for its marker (liveness.ts L1).
    releaseRequest(claim.redemptionId);
  }
}

/** The work under a claim this request won (redeem's body). */
async function redeemClaimed(
  counter: Counter,
  input: RedeemInput,
  claim: RedemptionKeyDoc,
): Promise<StoredResponse> {
  const rid = claim.redemptionId;
  await stepDone('claimed', rid);

  let basket: Omit<FullRedemption, '_id'>;
  try {
    basket = await priceBasket(counter, input, claim._id);
  } catch (err) {
    if (!(err instanceof DomainError)) throw err;
    if (!input.offlineAt) {
      // Nothing was taken and nothing recorded: free the key so a corrected retry may use it.
      await dropKey(claim._id, rid);
      throw err;
    }
    const { retryAfterS: _r, ...details } = err.details;
    const response: StoredResponse = {
      status: statusOf(err.code),
      body: problemBody(err.reason, err.message, details),
    };
    await flagOffline({
      storeId: counter.storeId,
      terminalId: counter.terminalId,
      key: input.key,
      cardNo: input.cardNo,
      items: input.items,
      offlineAt: input.offlineAt,
      code: err.code,
      detail: err.message,
    });
    await RedemptionKey.updateOne(
      { _id: claim._id },
      { $set: { status: 'done', response, completedAt: new Date() } },
    );
    await Inflight.deleteOne({ _id: rid });
    return response;
  }

  let r: RedemptionDoc;
  try {
    // What was inserted is what is stored: no read back.
    const [created] = await Redemption.create([{ _id: new Types.ObjectId(rid), ...basket }]);
    r = created!.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    // Recovery wrote a tombstone: this request was given up for dead. Free the key for a retry.
    await dropKey(claim._id, rid);
    throw abandonedError();
  }
  assert.ok(isFull(r));
  await stepDone('recorded', rid);
  return carryOut(r);
}

export interface BatchEntry extends BasketInput {
  key: string;
  offlineAt: Date;
}

export interface BatchResult {
  key: string;
  /** redeemed: 201; flagged: could not be charged, listed for the store manager; retry: send it again later; rejected: fix the entry. */
  outcome: 'redeemed' | 'flagged' | 'retry' | 'rejected';
  status: number;
  body: unknown;
}

/** Batch size of an offline upload: a counter offline for a day makes tens, not thousands. */
export const BATCH_SIZE_MAX = 200;

/**
 * Uploads redemptions a terminal made offline, in the order they happened (offline time, then
 * position), each under its own key. One that can no longer be covered is stored as refused and
 * flagged, never dropped; the ledger keeps every balance at 0 or above (R3).
 */
export async function redeemBatch(p: Principal, entries: BatchEntry[]): Promise<BatchResult[]> {
  counterOf(p);
  const order = entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.offlineAt.getTime() - b.e.offlineAt.getTime() || a.i - b.i);
  const results = new Array<BatchResult>(entries.length);
  for (const { e, i } of order) {
    try {
      const response = await redeem(p, e);
      results[i] = {
        key: e.key,
        outcome: response.status === 201 ? 'redeemed' : 'flagged',
        status: response.status,
        body: response.body,
      };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const { retryAfterS: _r, ...details } = err.details;
      const outcome = err.code === 'conflict' || err.code === 'unavailable' ? 'retry' : 'rejected';
      results[i] = {
        key: e.key,
        outcome,
        status: statusOf(err.code),
        body: problemBody(err.reason, err.message, details),
      };
    }
  }
  return results;
}

// ─── Reversal ────────────────────────────────────────────────────────────────────────────

async function finishReversal(
  r: FullRedemption,
  by: 'request' | 'recovery',
): Promise<RedemptionEventDoc> {
  const rid = idOf(r);
  const { entry } = await postEntry({
    householdId: r.householdId,
    type: 'reversal',
    points: r.points,
    spendableDelta: r.points,
    meritDelta: 0,
    shortfall: 'reject',
    source: { type: 'reversal', id: rid },
    reason: `撤销兑换（凭条 ${receiptNoOf(rid)}）`,
  });
  await stepDone('reversalPosted', rid);
  await giveBackTakes(r, 'reversal');
  await stepDone('reversalReturned', rid);
  let reversed: RedemptionEventDoc;
  try {
    const [doc] = await RedemptionEvent.create([
      {
        _id: `${rid}:reversed`,
        redemptionId: rid,
        stage: 'reversed',
        status: 'reversed',
        entrySeq: entry.seq,
        spendableAfter: entry.spendableAfter,
        by,
        at: new Date(),
      },
    ]);
    reversed = doc!.toObject();
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    reversed = (await findEvent(rid, 'reversed'))!;
  }
  await RedemptionWork.deleteOne({ _id: `reverse:${rid}` });
  return reversed;
}

/**
 * Reverses a confirmed redemption: a `reversal` ledger entry gives the points back and the stock
 * returns, once however many requests arrive (R5). Only a terminal of the same store, on the same
 * Asia/Shanghai day as the redemption (`reversal_window_closed` after). Repeats answer the same.
 */
export async function reverseRedemption(p: Principal, redemptionId: string): Promise<ReversalView> {
  counterOf(p);
  const r = await redemptionInReach(p, redemptionId);
  const rid = idOf(r);
  const done = await findEvent(rid, 'reversed');
  if (done) return toReversalView(r, done);
  const settled = await findEvent(rid, 'settled');
  if (!settled)
    throw new DomainError('redemption_in_progress', 'This redemption is still in progress.', {
      retryAfterS: 1,
    });
  if (settled.status !== 'confirmed')
    throw new DomainError(
      'redemption_not_confirmed',
      'This redemption did not go through; there is nothing to reverse.',
    );
  const started = await RedemptionWork.exists({ _id: `reverse:${rid}` });
  if (!started && shanghaiDay(clock.now()) !== r.day) {
    throw new DomainError(
      'reversal_window_closed',
      'A redemption can be reversed only on the day it was made.',
    );
  }
  try {
    await RedemptionWork.create([
      { _id: `reverse:${rid}`, redemptionId: rid, createdAt: new Date() },
    ]);
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err; // another reversal of it is under way: do the same, idempotently
  }
  return toReversalView(r, await finishReversal(r, 'request'));
}

// ─── Recovery ────────────────────────────────────────────────────────────────────────────

/** Takes one redemption from wherever it stopped to its end (see the module doc). */
export async function recoverRedemption(
  redemptionId: string,
): Promise<'confirmed' | 'failed' | 'abandoned' | 'missing'> {
  const r = await Redemption.findById(redemptionId).lean<RedemptionDoc>();
  if (!isFull(r)) return 'missing';
  const rid = idOf(r);
  let settled = await findEvent(rid, 'settled');
  if (!settled) {
    // The commit point: whichever of the real entry and this void holds the source decides.
    const { entry } = await postEntry({
      householdId: r.householdId,
      type: 'redemption',
      points: 0,
      spendableDelta: 0,
      meritDelta: 0,
      shortfall: 'reject',
      source: { type: 'redemption', id: rid },
      reason: VOID_REASON,
    });
    settled =
      entry.spendableDelta !== 0
        ? await settle(rid, {
            status: 'confirmed',
            entrySeq: entry.seq,
            spendableAfter: entry.spendableAfter,
            by: 'recovery',
          })
        : await settle(rid, {
            status: 'failed',
            code: ABANDONED,
            detail: 'Interrupted; rolled back by recovery.',
            by: 'recovery',
          });
  }
  if (settled.status === 'failed' && settled.code === ABANDONED) {
    await rollBack(r);
    return 'abandoned';
  }
  await finishSettled(r, settled);
  return settled.status === 'confirmed' ? 'confirmed' : 'failed';
}

/**
 * Blocks a redemption id whose request may be dead or stuck before recording it: afterwards
 * that request can never record it. Returns the redemption if it was recorded first.
 */
async function tombstone(redemptionId: string, claimId: string): Promise<RedemptionDoc | null> {
  try {
    await Redemption.create([
      {
        _id: new Types.ObjectId(redemptionId),
        tombstone: true,
        storeId: '-',
        terminalId: '-',
        key: '-',
        claimId,
        createdAt: new Date(),
      },
    ]);
    return null;
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    const r = await Redemption.findById(redemptionId).lean<RedemptionDoc>();
    return r && !r.tombstone ? r : null;
  }
}

/** Recovers one pending key (see the module doc). */
async function recoverClaim(claim: RedemptionKeyDoc): Promise<void> {
  if (claim.status !== 'pending') return;
  const r =
    (await Redemption.findById(claim.redemptionId).lean<RedemptionDoc>()) ??
    (await tombstone(claim.redemptionId, claim._id));
  if (!isFull(r)) {
    await dropKey(claim._id, claim.redemptionId);
    return;
  }
  await recoverRedemption(claim.redemptionId);
}

/** Recovers the work an in-flight marker names (see the module doc). */
async function recoverInflight(marker: InflightDoc): Promise<void> {
  const claim = await RedemptionKey.findById(marker.keyId).lean<RedemptionKeyDoc>();
  if (claim && claim.redemptionId === marker._id && claim.status === 'pending')
    return recoverClaim(claim);
  // The claim is done or dropped (a crash came after that and before the marker's deletion),
  // or this attempt's claim was never written (lost the insert, or the request is dead or stuck
  // just before it): fence the id so it can never be recorded, finish this redemption's own tail
  // if it has one, and forget the marker.
  const r =
    (await Redemption.findById(marker._id).lean<RedemptionDoc>()) ??
    (await tombstone(marker._id, marker.keyId));
  if (isFull(r)) await recoverRedemption(marker._id);
  await Inflight.deleteOne({ _id: marker._id });
}

export interface RecoveryReport {
  keys: number;
  reversals: number;
  errors: number;
  /** Markers old enough but left alone: their requests are alive (waiting or working). */
  live: number;
}

/**
 * Finishes or undoes every redemption and reversal left half-done for longer than
 * `olderThanMs` (the worker calls it every ~30 s with RECOVERY_AGE_MS). Safe to run anywhere,
 * any number of times, concurrently with live requests: every step it takes is idempotent and
 * fenced. Reads in bounded batches; one record's failure does not stop the others.
 */
export async function recoverRedemptions(
  olderThanMs: number = RECOVERY_AGE_MS,
  /** Told of each record that could not be recovered this time (the next run tries again). */
  onError: (err: unknown, ref: { redemptionId: string }) => void = () => undefined,
): Promise<RecoveryReport> {
  const cutoff = new Date(Date.now() - olderThanMs);
  const report: RecoveryReport = { keys: 0, reversals: 0, errors: 0, live: 0 };
  let afterId = '';
  for (;;) {
    // The in-flight collection holds only work under way, so this scan stays small.
    const markers = await Inflight.find({ createdAt: { $lte: cutoff }, _id: { $gt: afterId } })
      .sort({ _id: 1 })
      .limit(RECOVERY_BATCH)
      .lean<InflightDoc[]>();
    for (const m of markers) {
      try {
        if (await isLive(m, olderThanMs)) {
          report.live++;
          continue;
        }
        await recoverInflight(m);
        report.keys++;
      } catch (err) {
        report.errors++;
        onError(err, { redemptionId: m._id });
      }
    }
    if (markers.length < RECOVERY_BATCH) break;
    afterId = markers[markers.length - 1]!._id;
  }
  let afterWork = '';
  for (;;) {
    const work = await RedemptionWork.find({ createdAt: { $lte: cutoff }, _id: { $gt: afterWork } })
      .sort({ _id: 1 })
      .limit(RECOVERY_BATCH)
      .lean();
    for (const w of work) {
      try {
        const r = await Redemption.findById(w.redemptionId).lean<RedemptionDoc>();
        if (isFull(r)) await finishReversal(r, 'recovery');
        else await RedemptionWork.deleteOne({ _id: w._id });
        report.reversals++;
      } catch (err) {
        report.errors++;
        onError(err, { redemptionId: w.redemptionId });
      }
    }
    if (work.length < RECOVERY_BATCH) break;
    afterWork = work[work.length - 1]!._id;
  }
  await pruneLeases();
  return report;
}

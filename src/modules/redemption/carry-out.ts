/**
 * Carrying out a recorded redemption (R2, R3): take the day's allowance, take each line's stock,
 * post the ledger entry, settle; after a refusal give back what was taken. The steps recovery
 * and reversal share (settle, finish a settled redemption, give back takes) live here too.
 */
import assert from 'node:assert/strict';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import { cutText } from '../../platform/text';
import { redeem } from '../ledger/ledger.service';
import {
  fenceStockTake,
  giveBackStock,
  takeStock,
  type TakeLookup,
  type TakeResult,
} from '../stores/items.service';
import { fenceAllowance, giveBackAllowance, takeAllowance, tracksAllowance } from './allowance';
import { flagOffline } from './flags.service';
import { eventInserts } from './inserts';
import { completeKey, dropKey, releaseOwnClaim } from './keys';
import {
  type RecordedTakes,
  type RedemptionEventDoc,
  type RedemptionLine,
  type StoredResponse,
} from './redemption.model';
import {
  findEvent,
  idOf,
  responseOf,
  storesResponse,
  type FullRedemption,
} from './redemption.views';
import { ABANDONED, abandonedError, REFUSALS, stepDone } from './steps';

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

/** How a give-back finds one take: by the link id the settled event recorded, else by source. */
function lookupOf(
  mode: GiveBackMode,
  recorded: RecordedTakes | undefined,
  linkId: string | undefined,
): TakeLookup {
  if (!recorded) return { surely: mode === 'reversal' };
  if (linkId) return { known: linkId };
  // A confirmed redemption took every line (R2): one recorded without its take is looked up.
  return mode === 'reversal' ? { surely: true } : { known: null };
}

/** The chain a link id (`<chain>#<seq>`) belongs to. */
const chainOfLink = (linkId: string) => linkId.slice(0, linkId.lastIndexOf('#'));

/**
 * Gives back whatever the redemption took (stock per line, allowance), each once. `recorded`:
 * the takes its settled event names (absent: each is looked up by its source). Each take is on
 * its own chain, so they are given back side by side.
 */
export async function giveBackTakes(
  r: FullRedemption,
  mode: GiveBackMode,
  recorded?: RecordedTakes,
): Promise<void> {
  assert.ok(!(mode === 'rollBack' && recorded), 'a roll-back fences every take first');
  const rid = idOf(r);
  const reason = GIVE_BACK_REASON[mode];
  const lines = r.lines.map(async (line) => {
    if (mode === 'rollBack') await fenceStockTake(line.itemId, rid);
    const linkId = recorded?.stock.find((id) => chainOfLink(id) === line.itemId);
    await giveBackStock(line.itemId, rid, reason, lookupOf(mode, recorded, linkId));
  });
  const day = async () => {
    if (!tracksAllowance(r)) return;
    if (mode === 'rollBack') await fenceAllowance(r);
    await giveBackAllowance(r, lookupOf(mode, recorded, recorded?.allowance));
  };
  const ended = await Promise.allSettled([...lines, day()]);
  const failed = ended.find((e) => e.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * Inserts the settled event, or returns the one already there: the first decision wins. The
 * event carries the response the key replays (a pure function of the redemption and the event),
 * except for `abandoned`, which is not an outcome: its key is dropped.
 */
export async function settle(
  r: FullRedemption,
  event: Omit<
    RedemptionEventDoc,
    '_id' | 'redemptionId' | 'stage' | 'at' | 'response' | 'responseText'
  >,
): Promise<RedemptionEventDoc> {
  const rid = idOf(r);
  const doc: RedemptionEventDoc = {
    ...event,
    _id: `${rid}:settled`,
    redemptionId: rid,
    stage: 'settled',
    at: new Date(),
  };
  if (event.code !== ABANDONED) doc.responseText = JSON.stringify(responseOf(r, doc));
  try {
    await eventInserts.insert(doc);
    return doc;
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
export async function finishSettled(
  r: FullRedemption,
  settled: RedemptionEventDoc,
  byRequest = false,
): Promise<StoredResponse> {
  const response = responseOf(r, settled);
  if (settled.status === 'failed') {
    await giveBackTakes(r, 'refused', settled.takes);
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
  if (byRequest) await releaseOwnClaim(r.claimId, idOf(r), storesResponse(settled), response);
  else await completeKey(r.claimId, idOf(r), response);
  return response;
}

/** Recovery's roll-back tail: fence and give back every take, then drop the key. */
export async function rollBack(r: FullRedemption): Promise<void> {
  await giveBackTakes(r, 'rollBack');
  await dropKey(r.claimId, idOf(r));
}

/** A take came back voided: recovery rolled this redemption back while the request was stuck. */
async function onVoided(r: FullRedemption): Promise<never> {
  await giveBackTakes(r, 'rollBack');
  throw abandonedError();
}

/** Takes one line's stock; `out_of_stock` names the line. */
async function takeLine(rid: string, line: RedemptionLine): Promise<TakeResult> {
  try {
    return await takeStock(line.itemId, rid, line.qty);
  } catch (err) {
    if (err instanceof DomainError && err.code === 'out_of_stock') {
      throw new DomainError('out_of_stock', `Not enough stock of ${line.sku} (${line.name}).`, {
        ...err.details,
        sku: line.sku,
      });
    }
    throw err;
  }
}

const isRefusal = (err: unknown) => err instanceof DomainError && REFUSALS.includes(err.code);

/**
 * Takes the day's allowance and every line's stock side by side (each on its own chain; the
 * stock takes of one turn go to the database as one insertMany), and records in `takes` what
 * was taken. Only once every take has ended does it throw: an error that is not a refusal
 * first (a take's fate unknown: nothing is settled, recovery fences), then a fenced take
 * (rolled back by recovery), else the first refusal in the old order (allowance, then the
 * lines), which carryOut settles and gives back.
 */
async function takeAll(r: FullRedemption, takes: RecordedTakes): Promise<void> {
  const rid = idOf(r);
  const [day, ...lines] = await Promise.allSettled([
    tracksAllowance(r) ? takeAllowance(r) : Promise.resolve(undefined),
    ...r.lines.map((line) => takeLine(rid, line)),
  ]);
  const outcomes = [day, ...lines];
  if (day.status === 'fulfilled' && day.value?.state === 'taken')
    takes.allowance = day.value.linkId;
  for (const o of lines)
    if (o.status === 'fulfilled' && o.value.state === 'taken') takes.stock.push(o.value.linkId);
  const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as Error] : []));
  const broken = errors.find((e) => !isRefusal(e));
  if (broken !== undefined) throw broken;
  if (outcomes.some((o) => o.status === 'fulfilled' && o.value?.state === 'voided'))
    return await onVoided(r);
  const [refusal] = errors;
  if (refusal) throw refusal;
}

/**
 * Takes the allowance and the stock and posts the entry, then settles confirmed. Throws a
 * refusal (insufficient_points, out_of_stock, daily_limit_exceeded) for carryOut to settle.
 */
async function takeAndPost(r: FullRedemption, takes: RecordedTakes): Promise<RedemptionEventDoc> {
  const rid = idOf(r);
  await takeAll(r, takes);
  if (tracksAllowance(r)) await stepDone('allowanceTaken', rid);
  await stepDone('stockTaken', rid);
  const { entry } = await redeem({
    householdId: r.householdId,
    points: r.points,
    source: { type: 'redemption', id: rid },
    reason: redemptionReason(r),
  });
  if (entry.spendableDelta === 0) return await onVoided(r);
  await stepDone('ledgerPosted', rid);
  const settled = await settle(r, {
    status: 'confirmed',
    entrySeq: entry.seq,
    spendableAfter: entry.spendableAfter,
    by: 'request',
    takes,
  });
  // Recovery never fails a redemption whose ledger entry exists (it rolls those forward).
  assert.equal(settled.status, 'confirmed', 'R2: a posted redemption is confirmed');
  return settled;
}

/** The request's path through the state machine, after its redemption is recorded. */
export async function carryOut(r: FullRedemption): Promise<StoredResponse> {
  const rid = idOf(r);
  const takes: RecordedTakes = { stock: [] };
  let settled: RedemptionEventDoc;
  try {
    settled = await takeAndPost(r, takes);
  } catch (err) {
    if (!(err instanceof DomainError) || !REFUSALS.includes(err.code)) throw err;
    const { retryAfterS: _r, ...details } = err.details;
    settled = await settle(r, {
      status: 'failed',
      code: err.code,
      detail: err.message,
      details,
      by: 'request',
      takes,
    });
    assert.equal(settled.status, 'failed', 'R2: a refused redemption never confirms');
    if (settled.code === ABANDONED) return onVoided(r);
  }
  await stepDone('settled', rid);
  return finishSettled(r, settled, true);
}

/**
 * The day's allowance (R3): every redemption adds its points to the chain of its household,
 * store and Asia/Shanghai day (platform/append-chain.ts), limit or not, so a limit set mid-day
 * counts the day's spending from its start and two counters cannot both squeeze under it.
 */
import assert from 'node:assert/strict';
import { AppendChain } from '../../platform/append-chain';
import { DomainError } from '../../platform/errors';
import { findTake, type TakeLookup, type TakeResult } from '../stores/items.service';
import { AllowanceLink, type AllowanceLinkDoc } from './redemption.model';
import { idOf, type FullRedemption } from './redemption.views';

const allowance = new AppendChain<AllowanceLinkDoc>(AllowanceLink, 'allowance', {
  groupCommit: true,
});

const allowanceChain = (r: Pick<FullRedemption, 'householdId' | 'storeId' | 'day'>) =>
  `${r.householdId}:${r.storeId}:${r.day}`;

/** Whether the redemption counts against the day's allowance chain (every one made since it always does). */
export const tracksAllowance = (r: FullRedemption) =>
  r.dailyLimit !== undefined || r.tracksAllowance === true;

/**
 * Adds the redemption to the day's spending at this store, refusing it when a limit is set and
 * the day's spending (every redemption of the day, made before or after the limit was set)
 * would pass it.
 */
export async function takeAllowance(r: FullRedemption): Promise<TakeResult> {
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
    // The request's own take under the redemption id it claimed; its settled event records the
    // link id, so no source pointer (recovery finds it through the source index, items.service).
    // A day's chain this process knows nothing of is taken to be empty, without a read: at a
    // counter nearly every household redeems once a day (AppendChain's `emptyIfUnknown`).
    { fresh: true, pointer: false, emptyIfUnknown: true },
  );
  return link.kind === 'void'
    ? { state: 'voided' }
    : { state: 'taken', qty: link.delta, linkId: link._id };
}

export async function fenceAllowance(r: FullRedemption): Promise<void> {
  await allowance.append(allowanceChain(r), { type: 'take', id: idOf(r) }, (head) => ({
    kind: 'void',
    delta: 0,
    usedAfter: head?.usedAfter ?? 0,
  }));
}

/** Gives back the day's take, once; `how` finds it as for stock (items.service TakeLookup). */
export async function giveBackAllowance(r: FullRedemption, how: TakeLookup): Promise<void> {
  const source = { type: 'take', id: idOf(r) };
  const taken = await findTake(allowance, source, how);
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

/**
 * Which in-flight redemptions still have a live request behind them, so that recovery takes over
 * only work whose request is really dead.
 *
 * A request's in-flight marker is written when it claims its key, but the request may then wait
 * a long time before it works: behind the other requests of the same card in this process's
 * queues (the ledger's per-household queue, the stock and allowance chains), or behind a slow
 * database. The marker's age therefore says nothing about whether the request is alive. Instead:
 *
 * Invariants:
 * - L1 every marker names its owner, the process that wrote it (`OWNER_ID`). While a request is
 *   under way its id is held in this process's `held` set, from before its marker is written until
 *   the request returns or throws (a `finally`), whatever it waits for meanwhile.
 * - L2 the process renews one lease record (`redemption_leases`, `_id` = owner) every
 *   `staleAfterMs / LEASE_RENEWALS_PER_AGE` while it holds any request: the time of the snapshot
 *   and the ids held then. One write per interval, however many requests wait.
 * - L3 a marker is live when its owner is this process and holds it (exact), or when its owner's
 *   lease was renewed less than `staleAfterMs` ago and lists it. Recovery takes over a marker only
 *   when it is older than `staleAfterMs` and not live: the request crashed (SIGKILL: no renewals;
 *   an exception: released, so no longer listed), or its process stopped renewing for a whole
 *   recovery age. A marker without an owner (written before owners existed) is judged by age.
 * - L4 a request held for longer than `HOLD_AGE_MAX_MS` is no longer vouched for: a request stuck
 *   that long (a call that never returns) is recovered as if dead. Its HTTP client gave up long
 *   before, and recovery fences every step, so the stuck request can change nothing if it wakes.
 * Being wrong about liveness never breaks the books (recovery is fenced, see the service's
 * header); it only turns a request that would have succeeded into a 409 `conflict`. That is
 * what this prevents.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { redemptionTuning } from '../../platform/faults';
import { RedemptionLease, type InflightDoc, type RedemptionLeaseDoc } from './inflight.model';

/** A marker older than this and not live is taken over by recovery (ms). */
export const RECOVERY_AGE_MS = 30_000;
/** How long a duplicate waits for the first request's result before answering `conflict`. */
export const IN_FLIGHT_WAIT_MS = 8_000;
/** Lease renewals per recovery age: four may be missed (a slow write, a busy loop) before it lapses. */
export const LEASE_RENEWALS_PER_AGE = 5;
/** Shortest renewal interval, whatever the recovery age (tests lower it to milliseconds). */
const LEASE_RENEW_MIN_MS = 20;
/** A request held longer than this is no longer vouched for (L4): 10 minutes. */
export const HOLD_AGE_MAX_MS = 10 * 60_000;
/** Leases not renewed for this long belong to processes long gone; recovery deletes them. */
const LEASE_KEEP_MS = 24 * 3_600_000;

/** This process, as the owner of the markers it writes (L1). */
export const OWNER_ID = `${os.hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

/** Redemption ids this process is working on, with when each was taken up. */
const held = new Map<string, number>();
let timer: NodeJS.Timeout | undefined;
/** The renewal being written, if one is. */
let renewing: Promise<void> | undefined;

const vouched = (since: number, now: number) => now - since < HOLD_AGE_MAX_MS;

/** Writes the lease: the snapshot's time and the ids held then (L2). Never throws. */
async function renewLease(): Promise<void> {
  const now = Date.now();
  const ids = [...held].filter(([, since]) => vouched(since, now)).map(([id]) => id);
  await RedemptionLease.updateOne(
    { _id: OWNER_ID },
    { $set: { renewedAt: new Date(now), redemptionIds: ids } },
    { upsert: true },
  ).catch(() => undefined); // a missed renewal is covered by the next ones (LEASE_RENEWALS_PER_AGE)
}

/** Renews now and then every interval while anything is held; one write at a time. */
function scheduleRenewal(delayMs: number): void {
  timer = setTimeout(() => {
    renewing = renewLease().then(() => {
      renewing = undefined;
      // One last renewal after the set emptied lists nothing, so recovery need not wait for a
      // crashed request's listing to lapse.
      if (held.size) scheduleRenewal(renewEveryMs());
      else timer = undefined;
    });
  }, delayMs);
  timer.unref();
}

/**
 * Once nothing is held, writes the last renewal now instead of up to an interval later, and
 * waits for it: for a process about to stop, or a test file about to drop its database (the
 * next file's fresh database must not receive this one's lease while it counts its documents).
 */
export async function settleLeaseRenewal(): Promise<void> {
  await renewing;
  if (!timer || held.size) return;
  clearTimeout(timer);
  timer = undefined;
  await renewLease();
}

const renewEveryMs = () =>
  Math.max(
    LEASE_RENEW_MIN_MS,
    Math.floor((redemptionTuning.staleAfterMs ?? RECOVERY_AGE_MS) / LEASE_RENEWALS_PER_AGE),
  );

/** Takes up a request: call before its marker is written (L1). */
export function holdRequest(redemptionId: string): void {
  held.set(redemptionId, Date.now());
  if (!timer) scheduleRenewal(0);
}

/** Lets a request go when it returns or throws (L1). */
export function releaseRequest(redemptionId: string): void {
  held.delete(redemptionId);
}

/** Whether a marker's request is alive (L3, L4). */
export async function isLive(
  marker: Pick<InflightDoc, '_id' | 'owner'>,
  staleAfterMs: number,
): Promise<boolean> {
  if (!marker.owner) return false;
  const now = Date.now();
  if (marker.owner === OWNER_ID) {
    const since = held.get(marker._id);
    return since !== undefined && vouched(since, now);
  }
  const lease = await RedemptionLease.findById(marker.owner).lean<RedemptionLeaseDoc>();
  return (
    !!lease &&
    now - lease.renewedAt.getTime() < staleAfterMs &&
    lease.redemptionIds.includes(marker._id)
  );
}

/** Deletes the leases of processes gone for a day (one record per process start otherwise piles up). */
export async function pruneLeases(): Promise<void> {
  await RedemptionLease.deleteMany({ renewedAt: { $lt: new Date(Date.now() - LEASE_KEEP_MS) } });
}

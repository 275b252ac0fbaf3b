/**
 * Idempotency (R1): the Idempotency-Key's claim, inserted first, is the lock; only the request
 * whose insert wins does the work. Every other request with the key replays the stored response,
 * waits for it while the first is in flight, recovers a claim whose request is dead, or is told
 * the key was used for another body.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { Types } from 'mongoose';
import { redemptionTuning } from '../../platform/faults';
import { DomainError, isDuplicateKeyError } from '../../platform/errors';
import {
  holdRequest,
  IN_FLIGHT_WAIT_MS,
  isLive,
  OWNER_ID,
  RECOVERY_AGE_MS,
  releaseRequest,
} from './liveness';
import { claimInserts, holdsMarker, insertMarker } from './inserts';
import { dropKey, forgetMarker } from './keys';
import { recoverClaim, recoverRedemption } from './recovery';
import { RedemptionKey, type RedemptionKeyDoc, type StoredResponse } from './redemption.model';
import { findEvent, storedResponseOf } from './redemption.views';
import type { Counter, RedeemInput } from './steps';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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

export type Claim = { claim: RedemptionKeyDoc } | { replay: StoredResponse };

/**
 * Inserts the in-flight marker and the claim of this generation of the key, side by side (one
 * wait). Returns the claim, or null when another request claimed this generation first.
 *
 * The request is held (alive) before either exists, and both name its owner, so a claim whose
 * marker is still on its way is seen alive (claimAlive). Both are written before anything is
 * recorded or taken, so recovery (which reads the markers) sees every redemption that may have
 * taken something. Should the claim land and the marker not, nothing was done under the claim:
 * it is dropped here, or, if the drop fails too, recovered by the key's next retry (its owner no
 * longer holds it).
 */
async function insertClaim(
  counter: Counter,
  key: string,
  generation: number,
  fingerprint: string,
): Promise<RedemptionKeyDoc | null> {
  const claimId = `${counter.terminalId}:${key}#${generation}`;
  const redemptionId = new Types.ObjectId().toHexString();
  const createdAt = new Date();
  holdRequest(redemptionId);
  const doc: RedemptionKeyDoc = {
    _id: claimId,
    terminalId: counter.terminalId,
    key,
    generation,
    fingerprint,
    redemptionId,
    status: 'pending',
    owner: OWNER_ID,
    createdAt,
  };
  const [marker, claim] = await Promise.allSettled([
    insertMarker({ redemptionId, keyId: claimId, createdAt }),
    claimInserts.insert(doc),
  ]);
  if (marker.status === 'fulfilled' && claim.status === 'fulfilled') return doc;
  try {
    if (claim.status === 'fulfilled') await dropKey(claimId, redemptionId);
    else await forgetMarker(redemptionId);
  } finally {
    releaseRequest(redemptionId);
  }
  if (claim.status === 'rejected' && !isDuplicateKeyError(claim.reason)) throw claim.reason;
  if (marker.status === 'rejected') throw marker.reason;
  return null;
}

/** The stored response of a done claim of the same body; `idempotency_key_reused` for another body. */
function replayOf(existing: RedemptionKeyDoc, fingerprint: string): StoredResponse | undefined {
  if (existing.fingerprint !== fingerprint) {
    throw new DomainError(
      'idempotency_key_reused',
      'This Idempotency-Key was used for a different redemption.',
    );
  }
  if (existing.status !== 'done') return undefined;
  assert.ok(existing.response, 'a done key has its response');
  return existing.response;
}

/**
 * The response of a pending claim whose redemption is settled (its settled event holds the
 * response), or undefined while its request may still be finishing. While its request is alive
 * the tail may be under way and this waits. With its request over, the tail is done if this
 * process ran it and forgot its marker (the marker is forgotten as the request's last step);
 * otherwise (the request ran in another process or a process gone, or its tail was cut short by
 * an error, or the busy database refused the marker's delete) the tail is finished here, as
 * recovery would finish it (every step idempotent and fenced), rather than keeping the terminal
 * waiting for the recovery age.
 */
async function settledResponseOf(claim: RedemptionKeyDoc): Promise<StoredResponse | undefined> {
  const settled = await findEvent(claim.redemptionId, 'settled');
  const response = settled && storedResponseOf(settled);
  if (!response) return undefined;
  if (await claimAlive(claim)) return undefined;
  if (claim.owner !== OWNER_ID || holdsMarker(claim.redemptionId))
    await recoverRedemption(claim.redemptionId);
  return response;
}

/** Whether the request that holds a claim is still alive (liveness.ts), judged by the claim's owner. */
async function claimAlive(claim: RedemptionKeyDoc): Promise<boolean> {
  if (!claim.owner) return false;
  return isLive(
    { _id: claim.redemptionId, owner: claim.owner },
    redemptionTuning.staleAfterMs ?? RECOVERY_AGE_MS,
  );
}

/** A pending claim older than the recovery age whose request is not alive. */
async function isAbandoned(claim: RedemptionKeyDoc): Promise<boolean> {
  return (
    Date.now() - claim.createdAt.getTime() >= (redemptionTuning.staleAfterMs ?? RECOVERY_AGE_MS) &&
    !(await claimAlive(claim))
  );
}

/**
 * Claims the key, or answers from the claim already there (R1). While another request holds
 * the key and works, this waits (polling, so it works across processes) up to the in-flight
 * wait; a claim pending for longer than the recovery age is recovered first.
 */
export async function claimKey(counter: Counter, key: string, fingerprint: string): Promise<Claim> {
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
      const claim = await insertClaim(counter, key, generation, fingerprint);
      if (claim) return { claim };
      continue; // another request claimed this generation first: answer from its claim
    }
    const replay = replayOf(existing, fingerprint) ?? (await settledResponseOf(existing));
    if (replay) return { replay };
    if (await isAbandoned(existing)) {
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

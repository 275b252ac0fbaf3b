/**
 * The optional card PIN of a household (刷卡密码).
 *
 * Invariants:
 * - P1 the PIN is stored only as a scrypt hash (`card_pins`), never returned.
 * - P2 three wrong PINs in a row lock the card for 15 minutes. Every PIN outcome is a link in the
 *   household's `card_pin_events` chain (platform/append-chain.ts), computed from the link before
 *   it: concurrent attempts are serialised by the unique (chain, seq) index, so ten wrong PINs
 *   sent at once record exactly three failures and the rest find the card locked. No counter is
 *   ever incremented with a conditional update (not atomic on FerretDB).
 * - P3 a correct PIN ends the run of failures (an `ok` link), and is refused while locked.
 *   Setting a new PIN (clerk, admin or the household) appends a `reset` link: it unlocks.
 */
import { Types } from 'mongoose';
import { AppendChain } from '../../platform/append-chain';
import { hashSecret, verifySecret } from '../../platform/auth';
import { clock } from '../../platform/clock';
import { ConfigCache } from '../../platform/config-cache';
import { findLeanById } from '../../platform/db';
import { DomainError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { householdInReach } from '../households/households.service';
import { CardPin, PinEvent, type CardPinDoc, type PinEventDoc } from './pin.model';

/** Wrong PINs in a row that lock a card. */
export const PIN_FAILURES_MAX = 3;
/** How long a card stays locked: long enough to stop guessing, short enough for a real owner. */
export const PIN_LOCK_MS = 15 * 60 * 1000;

const pinEvents = new AppendChain<PinEventDoc>(PinEvent, 'pin');
/** Cards' PIN hashes (a card without a PIN costs no read): every change is seen at once (config-cache). */
const cardPins = new ConfigCache<CardPinDoc>('card PINs');

const isLocked = (
  head: PinEventDoc | undefined,
  now: Date,
): head is PinEventDoc & { lockedUntil: Date } =>
  Boolean(
    head && head.kind === 'fail' && head.lockedUntil && head.lockedUntil.getTime() > now.getTime(),
  );

function lockedError(until: Date, now: Date): DomainError {
  return new DomainError(
    'card_locked',
    'This card is locked after three wrong PINs; try again later.',
    {
      lockedUntil: until.toISOString(),
      retryAfterS: Math.ceil((until.getTime() - now.getTime()) / 1000),
    },
  );
}

/** Wrong PINs in a row before the next attempt (a lock that has run out starts a new run). */
function streakBefore(head: PinEventDoc | undefined): number {
  if (!head || head.kind !== 'fail' || head.lockedUntil) return 0;
  return head.failStreak;
}

/** The household's PIN record, if it has one (cached). */
const storedPin = (householdId: string) =>
  cardPins.get(
    householdId,
    async () => (await findLeanById<CardPinDoc>(CardPin, householdId)) ?? undefined,
  );

/** Reads the household's PIN record into the cache ahead of the check (a read only). */
export async function warmCardPin(householdId: string): Promise<void> {
  await storedPin(householdId);
}

/**
 * Checks a redemption's PIN against the household's, if it has one. Throws `pin_required`,
 * `pin_incorrect` (details: attemptsLeft) or `card_locked` (details: lockedUntil).
 */
export async function checkCardPin(householdId: string, pin: string | undefined): Promise<void> {
  const stored = await storedPin(householdId);
  if (!stored) return;
  const now = clock.now();
  const head = await pinEvents.head(householdId);
  if (isLocked(head, now)) throw lockedError(head.lockedUntil, now);
  if (pin === undefined)
    throw new DomainError('pin_required', 'This card has a PIN; ask the card holder to enter it.');
  const correct = await verifySecret(pin, stored.pinHash);
  const { link } = await pinEvents.append(
    householdId,
    { type: 'pin', id: new Types.ObjectId().toHexString() },
    (current) => {
      // Re-decided against the true head: a lock written meanwhile by another counter wins.
      if (isLocked(current, now)) throw lockedError(current.lockedUntil, now);
      if (correct) return { kind: 'ok', failStreak: 0 };
      const failStreak = streakBefore(current) + 1;
      return failStreak >= PIN_FAILURES_MAX
        ? { kind: 'fail', failStreak, lockedUntil: new Date(now.getTime() + PIN_LOCK_MS) }
        : { kind: 'fail', failStreak };
    },
  );
  if (link.kind === 'ok') return;
  if (link.lockedUntil) throw lockedError(link.lockedUntil, now);
  throw new DomainError('pin_incorrect', 'The PIN is not correct.', {
    attemptsLeft: PIN_FAILURES_MAX - link.failStreak,
  });
}

export interface PinStatus {
  householdId: string;
  pinSet: boolean;
  lockedUntil: string | null;
}

export async function getPinStatus(p: Principal, householdId: string): Promise<PinStatus> {
  await householdInReach(p, householdId);
  return pinStatusOf(householdId);
}

/** A card's PIN status without a reach check (the caller has checked it). */
export async function pinStatusOf(householdId: string): Promise<PinStatus> {
  const [stored, head] = await Promise.all([
    CardPin.findById(householdId).lean<CardPinDoc>(),
    pinEvents.head(householdId),
  ]);
  const now = clock.now();
  return {
    householdId,
    pinSet: Boolean(stored),
    lockedUntil: isLocked(head, now) ? head.lockedUntil.toISOString() : null,
  };
}

/** Sets or replaces the PIN and unlocks the card (P3). */
export async function setCardPin(
  p: Principal,
  householdId: string,
  pin: string,
  kdfLog2N: number,
): Promise<void> {
  await householdInReach(p, householdId);
  const pinHash = await hashSecret(pin, kdfLog2N);
  await CardPin.updateOne(
    { _id: householdId },
    { $set: { pinHash, setAt: clock.now(), setBy: p.id } },
    { upsert: true },
  );
  await pinEvents.append(
    householdId,
    { type: 'pin', id: new Types.ObjectId().toHexString() },
    () => ({ kind: 'reset', failStreak: 0 }),
  );
}

/** Removes the PIN: the card works without one again. */
export async function removeCardPin(p: Principal, householdId: string): Promise<void> {
  await householdInReach(p, householdId);
  await CardPin.deleteOne({ _id: householdId });
  await pinEvents.append(
    householdId,
    { type: 'pin', id: new Types.ObjectId().toHexString() },
    () => ({ kind: 'reset', failStreak: 0 }),
  );
}

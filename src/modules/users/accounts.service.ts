/**
 * What the county office (admin) does to an existing account: disable and re-enable it,
 * revoke its tokens, reset its password.
 *
 * Every one of these raises the account's `tokenVersion`, so each access token issued before
 * stops working on its next request (401): the principal is loaded by `_id` on every request
 * and its version compared with the token's (`tv`), at no extra cost. Re-enabling does not
 * bring old tokens back. An admin cannot disable their own account (the county would be
 * locked out by one click).
 */
import { Types } from 'mongoose';
import { hashSecret } from '../../platform/auth';
import { clock } from '../../platform/clock';
import { DomainError, notFound } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { User, type UserDoc } from './users.model';
import { toUserView } from './users.service';
import type { z } from '../../platform/validation';
import type { accountSchema } from './users.schemas';

export type AccountView = z.infer<typeof accountSchema>;

function toAccountView(u: UserDoc): AccountView {
  return {
    ...toUserView(u),
    disabled: Boolean(u.disabled),
    tokensRevokedAt: u.tokensRevokedAt ? u.tokensRevokedAt.toISOString() : null,
    passwordChangedAt: u.passwordChangedAt ? u.passwordChangedAt.toISOString() : null,
  };
}

async function findUser(userId: string): Promise<UserDoc> {
  const u = Types.ObjectId.isValid(userId) ? await User.findById(userId).lean<UserDoc>() : null;
  if (!u) throw notFound('user');
  return u;
}

export async function getAccount(userId: string): Promise<AccountView> {
  return toAccountView(await findUser(userId));
}

/** Disables (every token stops working, sign-in refused) or re-enables an account. */
export async function setAccountDisabled(
  actor: Principal,
  userId: string,
  disabled: boolean,
): Promise<AccountView> {
  const u = await findUser(userId);
  if (disabled && actor.id === userId)
    throw new DomainError('cannot_disable_self', 'You cannot disable your own account.');
  if (Boolean(u.disabled) !== disabled) {
    const update = disabled
      ? { $set: { disabled, tokensRevokedAt: clock.now() }, $inc: { tokenVersion: 1 } }
      : { $set: { disabled } };
    await User.updateOne({ _id: u._id }, update);
  }
  return getAccount(userId);
}

/** Every token of the account issued until now stops working; the account can sign in again. */
export async function revokeAccountTokens(userId: string): Promise<AccountView> {
  const u = await findUser(userId);
  await User.updateOne(
    { _id: u._id },
    { $set: { tokensRevokedAt: clock.now() }, $inc: { tokenVersion: 1 } },
  );
  return getAccount(userId);
}

/** Sets a new password chosen by the admin (to hand over in person); every token stops working. */
export async function resetAccountPassword(
  userId: string,
  newPassword: string,
  kdfLog2N: number,
): Promise<AccountView> {
  const u = await findUser(userId);
  const passwordHash = await hashSecret(newPassword, kdfLog2N);
  const now = clock.now();
  await User.updateOne(
    { _id: u._id },
    {
      $set: { passwordHash, passwordChangedAt: now, tokensRevokedAt: now },
      $inc: { tokenVersion: 1 },
    },
  );
  return getAccount(userId);
}

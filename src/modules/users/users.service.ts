/**
 * Users and who may create whom. The county office (admin) creates anyone; a village clerk
 * creates only council members and household logins of their own village; a township station
 * creates only supervisors (监督运营) of its own villages. Each role carries
 * exactly the scope it needs (village, household, cooperative, store or township), checked to exist.
 * Passwords are stored only as scrypt hashes and never returned.
 *
 * A clerk learns nothing about other villages from the answers: a village other than their own
 * is refused before it is looked up, and a household outside their village gets the same
 * answer as a household that does not exist.
 */
import { Types } from 'mongoose';
import { hashSecret } from '../../platform/auth';
import { findLeanById } from '../../platform/db';
import { DomainError, isDuplicateKeyError, type FieldError } from '../../platform/errors';
import type { Principal, Role } from '../../platform/principal';
import { findCooperative } from '../cooperatives/cooperatives.service';
import { findHousehold } from '../households/households.service';
import { findTownship } from '../levels/levels.service';
import { findVolunteer } from '../volunteers/volunteers.service';
import { findStore } from '../stores/stores.service';
import { findVillage } from '../villages/villages.service';
import { User, type UserDoc } from './users.model';
import type { z } from '../../platform/validation';
import type { userSchema } from './users.schemas';

export interface NewUser {
  username: string;
  /** Display name (姓名). */
  name?: string;
  password: string;
  role: Role;
  villageId?: string;
  cooperativeId?: string;
  storeId?: string;
  householdId?: string;
  townshipId?: string;
  volunteerId?: string;
}

export type UserView = z.infer<typeof userSchema>;

export function toUserView(u: UserDoc): UserView {
  const v: UserView = {
    id: u._id.toHexString(),
    username: u.username,
    role: u.role,
    createdAt: u.createdAt.toISOString(),
  };
  if (u.name) v.name = u.name;
  if (u.villageId) v.villageId = u.villageId;
  if (u.cooperativeId) v.cooperativeId = u.cooperativeId;
  if (u.storeId) v.storeId = u.storeId;
  if (u.householdId) v.householdId = u.householdId;
  if (u.townshipId) v.townshipId = u.townshipId;
  if (u.volunteerId) v.volunteerId = u.volunteerId;
  return v;
}

/** Which scope fields each role takes. */
type ScopeField =
  'villageId' | 'cooperativeId' | 'storeId' | 'householdId' | 'townshipId' | 'volunteerId';
const SCOPE_FIELDS: readonly ScopeField[] = [
  'villageId',
  'cooperativeId',
  'storeId',
  'householdId',
  'townshipId',
  'volunteerId',
];
const SCOPE: Record<Role, readonly ScopeField[]> = {
  admin: [],
  clerk: ['villageId', 'volunteerId'],
  // A council member may name their own household, so that they cannot vote on it.
  council: ['villageId', 'householdId', 'volunteerId'],
  household: ['householdId', 'villageId', 'volunteerId'],
  officer: ['cooperativeId'],
  terminal: ['storeId'],
  township: ['townshipId'],
  supervisor: ['villageId'],
};
/** Roles a village clerk may create, in their own village only. */
const CLERK_MAY_CREATE: readonly Role[] = ['council', 'household'];
/** Roles a township station may create, in its own villages only. */
const TOWNSHIP_MAY_CREATE: readonly Role[] = ['supervisor'];

/** The one answer for a household that is missing or, for a clerk, of another village. */
const NO_SUCH_HOUSEHOLD = 'no such household';

async function resolveScope(
  actor: Principal | undefined,
  input: NewUser,
): Promise<Partial<NewUser>> {
  // A clerk's own village bounds everything they name: a household elsewhere is "no such".
  const visible = (h: { villageId: string } | undefined) =>
    h && (actor?.role !== 'clerk' || h.villageId === actor.villageId) ? h : undefined;
  const errors: FieldError[] = [];
  const allowed = SCOPE[input.role];
  for (const f of SCOPE_FIELDS) {
    if (input[f] !== undefined && !allowed.includes(f))
      errors.push({ path: f, message: `not used for role ${input.role}` });
  }
  const scope: Partial<NewUser> = {};
  if (input.role === 'clerk' || input.role === 'council' || input.role === 'supervisor') {
    if (!input.villageId) errors.push({ path: 'villageId', message: 'required for this role' });
    else if (!(await findVillage(input.villageId)))
      errors.push({ path: 'villageId', message: 'no such village' });
    else scope.villageId = input.villageId;
  }
  if (input.role === 'council' && input.householdId) {
    const h = visible(await findHousehold(input.householdId));
    if (!h) errors.push({ path: 'householdId', message: NO_SUCH_HOUSEHOLD });
    else if (input.villageId && h.villageId !== input.villageId)
      errors.push({ path: 'householdId', message: 'not a household of this village' });
    else scope.householdId = input.householdId;
  }
  if (input.role === 'household') {
    const h = input.householdId ? visible(await findHousehold(input.householdId)) : undefined;
    if (!input.householdId) errors.push({ path: 'householdId', message: 'required for this role' });
    else if (!h) errors.push({ path: 'householdId', message: NO_SUCH_HOUSEHOLD });
    else if (input.villageId && input.villageId !== h.villageId)
      errors.push({ path: 'villageId', message: 'not the household’s village' });
    else Object.assign(scope, { householdId: input.householdId, villageId: h.villageId });
  }
  if (input.role === 'officer') {
    if (!input.cooperativeId)
      errors.push({ path: 'cooperativeId', message: 'required for this role' });
    else if (!(await findCooperative(input.cooperativeId)))
      errors.push({ path: 'cooperativeId', message: 'no such cooperative' });
    else scope.cooperativeId = input.cooperativeId;
  }
  if (input.role === 'terminal') {
    if (!input.storeId) errors.push({ path: 'storeId', message: 'required for this role' });
    else if (!(await findStore(input.storeId)))
      errors.push({ path: 'storeId', message: 'no such store' });
    else scope.storeId = input.storeId;
  }
  if (input.role === 'township') {
    if (!input.townshipId) errors.push({ path: 'townshipId', message: 'required for this role' });
    else if (!(await findTownship(input.townshipId)))
      errors.push({ path: 'townshipId', message: 'no such township' });
    else scope.townshipId = input.townshipId;
  }
  if (input.volunteerId && allowed.includes('volunteerId')) {
    const v = await findVolunteer(input.volunteerId);
    const householdId = scope.householdId ?? input.householdId;
    if (!v) errors.push({ path: 'volunteerId', message: 'no such volunteer' });
    else if (householdId && v.householdId !== householdId)
      errors.push({ path: 'volunteerId', message: 'not a volunteer of this household' });
    else if (scope.villageId && v.villageId && v.villageId !== scope.villageId)
      errors.push({ path: 'volunteerId', message: 'not a volunteer of this village' });
    else scope.volunteerId = input.volunteerId;
  }
  if (errors.length)
    throw new DomainError('validation_failed', 'The user is not valid.', { errors });
  return scope;
}

/** Whether `actor` may create a user of `role` at all (the scope is checked after). */
function mayCreate(actor: Principal, role: Role): boolean {
  if (actor.role === 'admin') return true;
  if (actor.role === 'clerk') return CLERK_MAY_CREATE.includes(role);
  if (actor.role === 'township') return TOWNSHIP_MAY_CREATE.includes(role);
  return false;
}

/** Creates a user as `actor`; undefined actor = the system (bootstrap, CLI, seed). */
/** A user by username (sign-in), read fresh. */
export async function findUserByUsername(username: string): Promise<UserDoc | undefined> {
  return (await User.findOne({ username }).lean<UserDoc>()) ?? undefined;
}

/** A user by id, read fresh (callers cache it as they need). */
export async function findUserById(userId: string): Promise<UserDoc | undefined> {
  return (await findLeanById<UserDoc>(User, userId)) ?? undefined;
}

/** Stores a new password hash and raises the token version: every token of the user stops working. */
export async function replacePassword(
  userId: Types.ObjectId,
  passwordHash: string,
  now: Date,
): Promise<void> {
  await User.updateOne(
    { _id: userId },
    {
      $set: { passwordHash, passwordChangedAt: now, tokensRevokedAt: now },
      $inc: { tokenVersion: 1 },
    },
  );
}

export async function createUser(
  actor: Principal | undefined,
  input: NewUser,
  kdfLog2N: number,
): Promise<UserView> {
  if (actor && !mayCreate(actor, input.role))
    throw new DomainError('forbidden', 'This role may not create that kind of user.');
  // Before any look-up: whether another village exists is not the clerk's to learn.
  if (
    actor?.role === 'clerk' &&
    input.villageId !== undefined &&
    input.villageId !== actor.villageId
  ) {
    throw new DomainError('forbidden', 'A clerk creates users of their own village only.');
  }
  const scope = await resolveScope(actor, input);
  if (actor?.role === 'clerk' && scope.villageId !== actor.villageId) {
    throw new DomainError('forbidden', 'A clerk creates users of their own village only.');
  }
  if (
    actor?.role === 'township' &&
    !(scope.villageId && actor.villageIds?.includes(scope.villageId))
  ) {
    // Answered as for a village that does not exist: another township's villages are not revealed.
    throw new DomainError('validation_failed', 'The user is not valid.', {
      errors: [{ path: 'villageId', message: 'no such village' }],
    });
  }
  const passwordHash = await hashSecret(input.password, kdfLog2N);
  try {
    const [doc] = await User.create([
      {
        username: input.username,
        ...(input.name ? { name: input.name } : {}),
        passwordHash,
        role: input.role,
        ...scope,
      },
    ]);
    return toUserView(doc!.toObject());
  } catch (err) {
    if (isDuplicateKeyError(err))
      throw new DomainError('username_taken', `The username ${input.username} is taken.`);
    throw err;
  }
}

/** The names people are shown for users (their name, else their username), by id; unknown ids are absent. */
export async function displayNames(userIds: readonly string[]): Promise<Map<string, string>> {
  const ids = [...new Set(userIds)].filter((id) => Types.ObjectId.isValid(id));
  const docs = await Promise.all(
    ids.map((id) =>
      User.findById(id)
        .select({ username: 1, name: 1 })
        .lean<Pick<UserDoc, '_id' | 'username' | 'name'>>(),
    ),
  );
  return new Map(
    docs.filter((d) => d !== null).map((d) => [d._id.toHexString(), d.name || d.username]),
  );
}

/** Creates the environment's admin when the database has no admin yet; idempotent. */
export async function ensureBootstrapAdmin(
  admin: { username: string; password: string } | undefined,
  kdfLog2N: number,
): Promise<boolean> {
  if (!admin) return false;
  if (await User.exists({ role: 'admin' })) return false;
  try {
    await createUser(
      undefined,
      { username: admin.username, password: admin.password, role: 'admin' },
      kdfLog2N,
    );
    return true;
  } catch (err) {
    if (err instanceof DomainError && err.code === 'conflict') return false;
    throw err;
  }
}

/**
 * Active council members of a village entitled to vote on a submission about the given
 * households (a member of a subject household is not); a rejecting majority is counted of these.
 */
/** The active council members of a village (report-sized: a scan on FerretDB-SQLite). */
export async function listCouncilMembers(villageId: string): Promise<UserView[]> {
  const docs = await User.find({ role: 'council', villageId }).limit(1000).lean<UserDoc[]>();
  return docs.filter((d) => !d.disabled).map(toUserView);
}

export async function countCouncilVoters(
  villageId: string,
  excludeHouseholdIds: readonly string[],
): Promise<number> {
  return User.countDocuments({
    role: 'council',
    villageId,
    disabled: { $ne: true },
    householdId: { $nin: [...excludeHouseholdIds] },
  });
}

/** Users one listing returns: a county has a few thousand (clerks, councils, household logins). */
export const USERS_LIST_MAX = 500;

/**
 * Users in reach, in username order, a page at a time (`after` = the last username seen): every
 * user for the county office; for a clerk, the council and household logins of their village.
 */
export async function listUsers(
  p: Principal,
  q: { role?: Role; villageId?: string; after?: string; prefix?: string; limit?: number },
): Promise<{ items: (UserView & { disabled: boolean })[]; next: string | null }> {
  const filter: Record<string, unknown> = {};
  if (p.role === 'clerk') {
    if (q.villageId && q.villageId !== p.villageId) return { items: [], next: null };
    filter.villageId = p.villageId;
    filter.role =
      q.role && CLERK_MAY_CREATE.includes(q.role) ? q.role : { $in: [...CLERK_MAY_CREATE] };
  } else {
    if (q.role) filter.role = q.role;
    if (q.villageId) filter.villageId = q.villageId;
  }
  // Usernames are ASCII (USERNAME_RE): every name starting with the prefix sorts below prefix + '\x7f'.
  const username: Record<string, string> = {};
  if (q.prefix) Object.assign(username, { $gte: q.prefix, $lt: `${q.prefix}\x7f` });
  if (q.after && (!username.$gte || q.after >= username.$gte)) username.$gt = q.after;
  if (username.$gt) delete username.$gte;
  if (Object.keys(username).length) filter.username = username;
  const limit = Math.min(q.limit ?? 100, USERS_LIST_MAX);
  const docs = await User.find(filter)
    .sort({ username: 1 })
    .limit(limit + 1)
    .lean<UserDoc[]>();
  const items = docs
    .slice(0, limit)
    .map((u) => ({ ...toUserView(u), disabled: Boolean(u.disabled) }));
  return { items, next: docs.length > limit ? items[items.length - 1]!.username : null };
}

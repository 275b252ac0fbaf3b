/**
 * Sign-in. People use the password grant, store terminals the client-credentials grant; both
 * get a 15-minute ES256 access token whose `typ` names its kind.
 *
 * Brute force: after `failuresPerMinute` failed attempts for one username (or client id)
 * within a minute, further attempts get `rate_limited` until the minute is over, even with
 * the right password. A second budget, `failuresPerAddressPerMinute`, counts the attempts of one
 * client address (req.ip: the TCP peer, or X-Forwarded-For as far as TRUST_PROXY allows), so
 * trying many usernames from one place is stopped too. Each attempt is counted against both
 * before its secret is checked (a success gives it back), so concurrent guesses cannot slip past
 * the count. Counts live in Redis so every API process shares them. Unknown users cost a hash as
 * well, so timing does not reveal which usernames exist.
 *
 * Revocation: a token carries its principal's `tokenVersion` (`tv`); the principal is loaded by
 * `_id` on every request anyway, and a token whose version is older is refused. Changing one's
 * password raises the version (every session ends) and needs the current password, which is
 * throttled like a sign-in.
 */
import { Types } from 'mongoose';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { hashSecret, verifySecret, type TokenKind, type TokenService } from '../../platform/auth';
import { clock } from '../../platform/clock';
import { DomainError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import type { TerminalDoc } from '../stores/stores.model';
import { findTerminalByClientId, findTerminalById } from '../stores/stores.service';
import type { UserDoc } from '../users/users.model';
import { findUserById, findUserByUsername, replacePassword } from '../users/users.service';
import { villageIdsOfTownship } from '../levels/levels.service';
import { ConfigCache } from '../../platform/config-cache';

/** Principals behind tokens (config-cache: a disabled user or revoked terminal is re-read at once, in every process). */
const cachedUsers = new ConfigCache<UserDoc>('users');
const cachedTerminals = new ConfigCache<TerminalDoc>('terminals');

export interface AuthDeps {
  tokens: TokenService;
  redis: Redis;
  redisPrefix: string;
  failuresPerMinute: number;
  failuresPerAddressPerMinute: number;
  kdfLog2N: number;
}

export type TokenRequest =
  | { grantType: 'password'; username: string; password: string }
  | { grantType: 'client_credentials'; clientId: string; clientSecret: string };

export interface AuthService {
  /** `clientAddress` is the caller's address, counted against the per-address budget. */
  issueToken(
    req: TokenRequest,
    clientAddress: string,
  ): Promise<{ accessToken: string; tokenType: 'Bearer'; expiresIn: number }>;
  resolvePrincipal(
    sub: string,
    role: string,
    kind: TokenKind,
    tv: number,
  ): Promise<Principal | undefined>;
  /** A person changes their own password; every token of theirs stops working. */
  changeOwnPassword(
    p: Principal,
    input: { currentPassword: string; newPassword: string },
    clientAddress: string,
  ): Promise<void>;
}

/** The sign-in throttle of the module comment: two budgets, counted before a secret is checked. */
interface Throttle {
  /** One attempt from the address's budget, then from the account's. */
  reserveAttempt(key: string, clientAddress: string): Promise<void>;
  /** A success gives back the attempt it took: the account's count is cleared, the address's reduced by one. */
  giveBack(key: string, clientAddress: string): Promise<void>;
  /** Spends the time a hash check takes, for an unknown user or terminal. */
  burnTime(secret: string): Promise<void>;
}

function createThrottle(deps: AuthDeps): Throttle {
  const limiter = new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: `${deps.redisPrefix}:login-failures`,
    points: deps.failuresPerMinute,
    duration: 60,
  });
  const addressLimiter = new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: `${deps.redisPrefix}:login-failures-address`,
    points: deps.failuresPerAddressPerMinute,
    duration: 60,
  });
  let dummyHash: Promise<string> | undefined;

  /**
   * Takes one attempt from the key's budget before the secret is checked; a success gives the
   * budget back. Counting first (not checking the count, then counting a failure) is what
   * keeps ten guesses sent at once from all reaching the password check.
   */
  async function reserve(l: RateLimiterRedis, key: string, detail: string): Promise<void> {
    try {
      await l.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes)
        throw new DomainError('rate_limited', detail, { retryAfterS: err.msBeforeNext / 1000 });
      throw new DomainError('unavailable', 'Sign-in is unavailable right now; try again shortly.');
    }
  }
  return {
    async reserveAttempt(key, clientAddress) {
      await reserve(
        addressLimiter,
        `ip:${clientAddress}`,
        'Too many failed sign-ins from this address; wait a minute.',
      );
      await reserve(limiter, key, 'Too many failed sign-ins; wait a minute.');
    },
    async giveBack(key, clientAddress) {
      await limiter.delete(key).catch(() => undefined);
      await addressLimiter.reward(`ip:${clientAddress}`, 1).catch(() => undefined);
    },
    async burnTime(secret) {
      dummyHash ??= hashSecret('not-a-real-password', deps.kdfLog2N);
      await verifySecret(secret, await dummyHash);
    },
  };
}

const fail = (): never => {
  throw new DomainError('unauthenticated', 'The credentials are not valid.');
};

/**
 * Checks a secret under the throttle: one attempt is taken first, an unknown or disabled account
 * costs the same hash check (timing does not reveal which exist), and a success gives the
 * attempt back. Returns what `find` found.
 */
async function checkSecret<T>(
  throttle: Throttle,
  attempt: { key: string; clientAddress: string; secret: string },
  find: () => Promise<{ found: T; hash: string } | undefined>,
): Promise<T> {
  const { key, clientAddress, secret } = attempt;
  await throttle.reserveAttempt(key, clientAddress);
  const account = await find();
  if (!account) {
    await throttle.burnTime(secret);
    return fail();
  }
  if (!(await verifySecret(secret, account.hash))) return fail();
  await throttle.giveBack(key, clientAddress);
  return account.found;
}

/** The principal a user's token stands for, unless the user was disabled or the token is stale. */
async function userPrincipal(
  user: UserDoc,
  sub: string,
  role: string,
  kind: TokenKind,
  tv: number,
): Promise<Principal | undefined> {
  const userKind: TokenKind = user.role === 'terminal' ? 'terminal' : 'person';
  if (user.disabled || user.role !== role || userKind !== kind || (user.tokenVersion ?? 0) !== tv)
    return undefined;
  const p: Principal = { id: sub, kind, role: user.role, username: user.username };
  if (user.villageId) p.villageId = user.villageId;
  if (user.householdId) p.householdId = user.householdId;
  if (user.cooperativeId) p.cooperativeId = user.cooperativeId;
  if (user.storeId) p.storeId = user.storeId;
  if (user.volunteerId) p.volunteerId = user.volunteerId;
  if (user.townshipId) {
    // A township acts for its villages: loaded with the principal, so a village placed
    // under it is in reach on the next request.
    p.townshipId = user.townshipId;
    p.villageIds = await villageIdsOfTownship(user.townshipId);
  }
  return p;
}

/** Loads a token's principal by `_id` (a user, else a terminal) and checks its version. */
async function resolvePrincipal(
  sub: string,
  role: string,
  kind: TokenKind,
  tv: number,
): Promise<Principal | undefined> {
  if (!Types.ObjectId.isValid(sub)) return undefined;
  const terminalToken = kind === 'terminal' && role === 'terminal';
  // A terminal's token: both read side by side (one wait, not two, when neither is cached); a
  // user with the id still comes first, as before.
  const [user, terminal] = await Promise.all([
    cachedUsers.get(sub, () => findUserById(sub)),
    terminalToken ? cachedTerminals.get(sub, () => findTerminalById(sub)) : undefined,
  ]);
  if (user) return userPrincipal(user, sub, role, kind, tv);
  if (!terminalToken) return undefined;
  if (!terminal || terminal.revokedAt || (terminal.tokenVersion ?? 0) !== tv) return undefined;
  return { id: sub, kind, role: 'terminal', storeId: terminal.storeId };
}

export function createAuthService(deps: AuthDeps): AuthService {
  const throttle = createThrottle(deps);
  const respond = (sub: string, role: string, kind: TokenKind, tv: number | undefined) => ({
    accessToken: deps.tokens.sign({ sub, role, tv: tv ?? 0 }, kind),
    tokenType: 'Bearer' as const,
    expiresIn: deps.tokens.ttlS,
  });

  return {
    async issueToken(req, clientAddress) {
      if (req.grantType === 'password') {
        const key = `user:${req.username.toLowerCase()}`;
        const user = await checkSecret(
          throttle,
          { key, clientAddress, secret: req.password },
          async () => {
            const u = await findUserByUsername(req.username);
            return u && !u.disabled ? { found: u, hash: u.passwordHash } : undefined;
          },
        );
        const kind = user.role === 'terminal' ? 'terminal' : 'person';
        return respond(user._id.toHexString(), user.role, kind, user.tokenVersion);
      }
      const key = `client:${req.clientId}`;
      const terminal = await checkSecret(
        throttle,
        { key, clientAddress, secret: req.clientSecret },
        async () => {
          const t = await findTerminalByClientId(req.clientId);
          return t && !t.revokedAt ? { found: t, hash: t.secretHash } : undefined;
        },
      );
      return respond(terminal._id.toHexString(), 'terminal', 'terminal', terminal.tokenVersion);
    },

    async changeOwnPassword(p, input, clientAddress) {
      const user = p.kind === 'person' ? await findUserById(p.id) : undefined;
      if (!user)
        throw new DomainError('forbidden', 'Only a person’s account has a password to change.');
      const key = `user:${user.username.toLowerCase()}`;
      await throttle.reserveAttempt(key, clientAddress);
      if (!(await verifySecret(input.currentPassword, user.passwordHash))) {
        throw new DomainError('validation_failed', 'The current password is not correct.', {
          errors: [{ path: 'currentPassword', message: '当前密码不正确' }],
        });
      }
      await throttle.giveBack(key, clientAddress);
      if (input.newPassword === input.currentPassword) {
        throw new DomainError(
          'validation_failed',
          'The new password must differ from the current one.',
          { errors: [{ path: 'newPassword', message: '新密码不能与当前密码相同' }] },
        );
      }
      const passwordHash = await hashSecret(input.newPassword, deps.kdfLog2N);
      const now = clock.now();
      await replacePassword(user._id, passwordHash, now);
    },

    resolvePrincipal,
  };
}

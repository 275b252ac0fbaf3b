/**
 * Sign-in. People use the password grant, store terminals the client-credentials grant; both
 * get a 15-minute ES256 access token whose `typ` names its kind.
 *
 * Brute force: after `failuresPerMinute` failed attempts for one username (or client id)
 * within a minute, further attempts get `rate_limited` until the minute is over, even with
 * the right password. Each attempt is counted before its secret is checked (a success gives
 * it back), so concurrent guesses cannot slip past the count. Counts live in Redis so every
 * API process shares them. Unknown users cost a hash as well, so timing does not reveal which
 * usernames exist.
 */
import { Types } from 'mongoose';
import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { hashSecret, verifySecret, type TokenKind, type TokenService } from '../../platform/auth';
import { DomainError } from '../../platform/errors';
import type { Principal } from '../../platform/principal';
import { Terminal, type TerminalDoc } from '../stores/stores.model';
import { User, type UserDoc } from '../users/users.model';
import { villageIdsOfTownship } from '../levels/levels.service';

export interface AuthDeps {
  tokens: TokenService;
  redis: Redis;
  redisPrefix: string;
  failuresPerMinute: number;
  kdfLog2N: number;
}

export type TokenRequest =
  | { grantType: 'password'; username: string; password: string }
  | { grantType: 'client_credentials'; clientId: string; clientSecret: string };

export interface AuthService {
  issueToken(req: TokenRequest): Promise<{ accessToken: string; tokenType: 'Bearer'; expiresIn: number }>;
  resolvePrincipal(sub: string, role: string, kind: TokenKind): Promise<Principal | undefined>;
}

export function createAuthService(deps: AuthDeps): AuthService {
  const limiter = new RateLimiterRedis({
    storeClient: deps.redis,
    keyPrefix: `${deps.redisPrefix}:login-failures`,
    points: deps.failuresPerMinute,
    duration: 60,
  });
  let dummyHash: Promise<string> | undefined;
  const burnTime = async (secret: string) => {
    dummyHash ??= hashSecret('not-a-real-password', deps.kdfLog2N);
    await verifySecret(secret, await dummyHash);
  };

  /**
   * Takes one attempt from the key's budget before the secret is checked; a success gives the
   * budget back. Counting first (not checking the count, then counting a failure) is what
   * keeps ten guesses sent at once from all reaching the password check.
   */
  async function reserveAttempt(key: string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (err) {
      if (err instanceof RateLimiterRes) {
        throw new DomainError('rate_limited', 'Too many failed sign-ins; wait a minute.', { retryAfterS: err.msBeforeNext / 1000 });
      }
      throw new DomainError('unavailable', 'Sign-in is unavailable right now; try again shortly.');
    }
  }

  const fail = (): never => {
    throw new DomainError('unauthenticated', 'The credentials are not valid.');
  };

  const respond = (sub: string, role: string, kind: TokenKind) => ({
    accessToken: deps.tokens.sign({ sub, role }, kind),
    tokenType: 'Bearer' as const,
    expiresIn: deps.tokens.ttlS,
  });

  return {
    async issueToken(req) {
      if (req.grantType === 'password') {
        const key = `user:${req.username.toLowerCase()}`;
        await reserveAttempt(key);
        const user = await User.findOne({ username: req.username }).lean<UserDoc>();
        if (!user || user.disabled) {
          await burnTime(req.password);
          return fail();
        }
        if (!(await verifySecret(req.password, user.passwordHash))) return fail();
        await limiter.delete(key).catch(() => undefined);
        return respond(user._id.toHexString(), user.role, user.role === 'terminal' ? 'terminal' : 'person');
      }
      const key = `client:${req.clientId}`;
      await reserveAttempt(key);
      const terminal = await Terminal.findOne({ clientId: req.clientId }).lean<TerminalDoc>();
      if (!terminal || terminal.revokedAt) {
        await burnTime(req.clientSecret);
        return fail();
      }
      if (!(await verifySecret(req.clientSecret, terminal.secretHash))) return fail();
      await limiter.delete(key).catch(() => undefined);
      return respond(terminal._id.toHexString(), 'terminal', 'terminal');
    },

    async resolvePrincipal(sub, role, kind) {
      if (!Types.ObjectId.isValid(sub)) return undefined;
      const user = await User.findById(sub).lean<UserDoc>();
      if (user) {
        const userKind: TokenKind = user.role === 'terminal' ? 'terminal' : 'person';
        if (user.disabled || user.role !== role || userKind !== kind) return undefined;
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
      if (kind !== 'terminal' || role !== 'terminal') return undefined;
      const terminal = await Terminal.findById(sub).lean<TerminalDoc>();
      if (!terminal || terminal.revokedAt) return undefined;
      return { id: sub, kind, role: 'terminal', storeId: terminal.storeId };
    },
  };
}

/**
 * Access tokens and password hashing.
 *
 * Tokens are JWTs signed with ES256 (asymmetric: a leaked verifier cannot mint tokens). On
 * verification the algorithm is pinned, `iss`, `aud` and `exp` are required (jsonwebtoken
 * checks `exp` only when present, so its presence is checked here), the `kid` must name a known
 * key, and the header `typ` must be the kind the route expects: a terminal token is never
 * accepted where a person's is expected and vice versa.
 *
 * A token that passed every check is remembered (the exact token string, at most
 * VERIFIED_TOKENS_MAX, the oldest forgotten first) until its `exp`: a terminal or a person sends
 * the same token with every request, and the ES256 signature check was about 5 % of the API's
 * CPU in the bench's redemption closed loop. A remembered token is still refused once expired,
 * and its kind is still checked against the route; any other string, a token differing in one
 * character included, is verified in full. Revocation is unaffected: it is checked where the
 * principal is loaded (`tv`), on every request.
 *
 * Passwords and terminal secrets are hashed with scrypt (memory-hard; Node's own crypto).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  scrypt,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import jwt from 'jsonwebtoken';
import { DomainError } from './errors';

export const TOKEN_KINDS = ['person', 'terminal'] as const;
export type TokenKind = (typeof TOKEN_KINDS)[number];
const TYP_OF: Record<TokenKind, string> = { person: 'person+jwt', terminal: 'terminal+jwt' };
const ALGORITHM = 'ES256';

export interface TokenClaims {
  sub: string;
  role: string;
  /**
   * Token version (`tv`): the principal's `tokenVersion` when the token was issued. Raising the
   * principal's version (revocation, password change, disabling) makes every older token fail
   * on its next request, checked where the principal is loaded anyway (by `_id`), so revocation
   * costs no extra read. Tokens from before this claim existed count as version 0.
   */
  tv?: number;
}

export interface TokenServiceOptions {
  privateKeyPem?: string;
  keyId?: string;
  previousPublicKeys?: Readonly<Record<string, string>>;
  issuer: string;
  audience: string;
  ttlS: number;
  /** Local mode: where a generated key is kept so tokens survive a restart. */
  keyDir?: string;
}

export interface TokenService {
  readonly ttlS: number;
  sign(claims: TokenClaims, kind: TokenKind): string;
  /** Verifies and returns the claims; throws `unauthenticated` for anything wrong. */
  verify(
    token: string,
    accepted: readonly TokenKind[],
  ): Required<TokenClaims> & { kind: TokenKind };
}

function loadOrGenerateKey(opts: TokenServiceOptions): { kid: string; privateKey: KeyObject } {
  if (opts.privateKeyPem && opts.keyId)
    return { kid: opts.keyId, privateKey: createPrivateKey(opts.privateKeyPem) };
  if (!opts.keyDir) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { kid: `ephemeral-${randomBytes(4).toString('hex')}`, privateKey };
  }
  mkdirSync(opts.keyDir, { recursive: true, mode: 0o700 });
  const file = path.join(opts.keyDir, 'jwt-es256.pem');
  const kidFile = path.join(opts.keyDir, 'jwt-es256.kid');
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(kidFile, `local-${randomBytes(4).toString('hex')}\n`);
  }
  return {
    kid: readFileSync(kidFile, 'utf8').trim(),
    privateKey: createPrivateKey(readFileSync(file)),
  };
}

/** Verified tokens remembered per token service (see the header). */
export const VERIFIED_TOKENS_MAX = 10_000;

type VerifiedClaims = Required<TokenClaims> & { kind: TokenKind };
interface Verified {
  claims: VerifiedClaims;
  expiresAtMs: number;
}

const unauthenticated = (why: string) => new DomainError('unauthenticated', why);

/** The kind a token's header names, if the route accepts it (checked before anything else). */
function acceptedKind(typ: unknown, accepted: readonly TokenKind[]): TokenKind {
  const kind = TOKEN_KINDS.find((k) => TYP_OF[k] === typ);
  if (!kind || !accepted.includes(kind))
    throw unauthenticated('This kind of access token is not accepted here.');
  return kind;
}

/** Every check of a token, in the header's order. */
function verifyInFull(
  token: string,
  accepted: readonly TokenKind[],
  publicKeys: ReadonlyMap<string, KeyObject>,
  opts: Pick<TokenServiceOptions, 'issuer' | 'audience'>,
): Verified {
  const decoded = jwt.decode(token, { complete: true });
  if (!decoded || typeof decoded.payload === 'string')
    throw unauthenticated('The access token is malformed.');
  const { header } = decoded;
  if (header.alg !== ALGORITHM) throw unauthenticated('The access token uses a wrong algorithm.');
  const key = header.kid ? publicKeys.get(header.kid) : undefined;
  if (!key) throw unauthenticated('The access token was signed by an unknown key.');
  const kind = acceptedKind(header.typ, accepted);
  let payload: jwt.JwtPayload;
  try {
    payload = jwt.verify(token, key, {
      algorithms: [ALGORITHM],
      issuer: opts.issuer,
      audience: opts.audience,
    }) as jwt.JwtPayload;
  } catch (err) {
    throw unauthenticated(
      err instanceof jwt.TokenExpiredError
        ? 'The access token has expired.'
        : 'The access token is not valid.',
    );
  }
  if (typeof payload.exp !== 'number') throw unauthenticated('The access token has no expiry.');
  if (typeof payload.sub !== 'string' || typeof payload.role !== 'string')
    throw unauthenticated('The access token is not valid.');
  const tv: unknown = payload.tv === undefined ? 0 : payload.tv;
  if (typeof tv !== 'number' || !Number.isSafeInteger(tv) || tv < 0)
    throw unauthenticated('The access token is not valid.');
  return {
    claims: { sub: payload.sub, role: payload.role, tv, kind },
    expiresAtMs: payload.exp * 1000,
  };
}

export function createTokenService(opts: TokenServiceOptions): TokenService {
  const { kid, privateKey } = loadOrGenerateKey(opts);
  const publicKeys = new Map<string, KeyObject>([[kid, createPublicKey(privateKey)]]);
  for (const [oldKid, pem] of Object.entries(opts.previousPublicKeys ?? {}))
    publicKeys.set(oldKid, createPublicKey(pem));
  const verified = new Map<string, Verified>();

  return {
    ttlS: opts.ttlS,
    sign(claims, kind) {
      return jwt.sign({ role: claims.role, tv: claims.tv ?? 0 }, privateKey, {
        algorithm: ALGORITHM,
        keyid: kid,
        subject: claims.sub,
        issuer: opts.issuer,
        audience: opts.audience,
        expiresIn: opts.ttlS,
        jwtid: randomBytes(12).toString('hex'),
        header: { alg: ALGORITHM, typ: TYP_OF[kind] },
      });
    },
    verify(token, accepted) {
      const known = verified.get(token);
      if (!known) {
        const checked = verifyInFull(token, accepted, publicKeys, opts);
        verified.set(token, checked);
        if (verified.size > VERIFIED_TOKENS_MAX) verified.delete(verified.keys().next().value!);
        return { ...checked.claims };
      }
      // The same precedence as in full: the kind first, then the expiry (jsonwebtoken's rule:
      // expired once the clock's second reaches `exp`).
      acceptedKind(TYP_OF[known.claims.kind], accepted);
      if (Date.now() >= known.expiresAtMs) {
        verified.delete(token);
        throw unauthenticated('The access token has expired.');
      }
      return { ...known.claims };
    },
  };
}

const SCRYPT_R = 8;
const SCRYPT_P = 1;
const KEY_LEN = 32;

function scryptAsync(secret: string, salt: Buffer, log2n: number): Promise<Buffer> {
  const N = 2 ** log2n;
  return new Promise((resolve, reject) =>
    scrypt(
      secret,
      salt,
      KEY_LEN,
      { N, r: SCRYPT_R, p: SCRYPT_P, maxmem: 256 * N * SCRYPT_R },
      (err, key) => (err ? reject(err) : resolve(key)),
    ),
  );
}

/** Hashes a password or secret: `scrypt$log2N$r$p$salt$hash` (base64url parts). */
export async function hashSecret(secret: string, log2n: number): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(secret, salt, log2n);
  return [
    'scrypt',
    log2n,
    SCRYPT_R,
    SCRYPT_P,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$');
}

/** Constant-time check of a secret against `hashSecret` output. */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const log2n = Number(parts[1]);
  const salt = Buffer.from(parts[4]!, 'base64url');
  const expected = Buffer.from(parts[5]!, 'base64url');
  const key = await scryptAsync(secret, salt, log2n);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * Ed25519 keys that sign credit exports, and their JWKS.
 *
 * The current key comes from EXPORT_SIGNING_KEY / EXPORT_SIGNING_KEY_ID; in local mode, when
 * those are unset, one is generated once and kept in DATA_DIR/keys (like the JWT key). Retired
 * keys are listed by their public halves (EXPORT_PREVIOUS_PUBLIC_KEYS) and stay in the JWKS, so
 * an export signed years ago still verifies: rotating means moving the old public key there and
 * configuring a new private key with a new kid.
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
  type KeyObject,
} from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface Jwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
  kid: string;
  use: 'sig';
  alg: 'EdDSA';
}

export interface SigningKeys {
  keyId: string;
  /** Signs bytes with the current key; returns the base64 signature. */
  sign(data: Buffer): string;
  jwks: { keys: Jwk[] };
}

export interface SigningKeyOptions {
  privateKeyPem?: string;
  keyId?: string;
  previousPublicKeys?: Readonly<Record<string, string>>;
  /** Local mode: where a generated key is kept. Without it (and without a key) one is made per process. */
  keyDir?: string;
}

function assertEd25519(key: KeyObject, what: string): void {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`${what} must be an Ed25519 key (got ${key.asymmetricKeyType ?? 'unknown'})`);
}

function loadOrGenerate(opts: SigningKeyOptions): { kid: string; privateKey: KeyObject } {
  if (opts.privateKeyPem && opts.keyId)
    return { kid: opts.keyId, privateKey: createPrivateKey(opts.privateKeyPem) };
  if (!opts.keyDir)
    return {
      kid: `ephemeral-${randomBytes(4).toString('hex')}`,
      privateKey: generateKeyPairSync('ed25519').privateKey,
    };
  mkdirSync(opts.keyDir, { recursive: true, mode: 0o700 });
  const file = path.join(opts.keyDir, 'export-ed25519.pem');
  if (!existsSync(file)) {
    // The API and the workers may start together: write aside, then link into place (atomic,
    // and refused when the other process got there first; then its key is the one used).
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(
      tmp,
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600, flag: 'wx' },
    );
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  const privateKey = createPrivateKey(readFileSync(file));
  // The kid is derived from the public key, so no second file has to agree with the first.
  const x = publicJwk('', createPublicKey(privateKey)).x;
  return { kid: `local-${createHash('sha256').update(x).digest('hex').slice(0, 12)}`, privateKey };
}

/** The public half of a key as a JWK (RFC 8037: kty OKP, crv Ed25519, x). */
export function publicJwk(kid: string, key: KeyObject): Jwk {
  const jwk = key.export({ format: 'jwk' }) as { x?: string };
  if (!jwk.x) throw new Error(`key ${kid} has no public part`);
  return { kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, use: 'sig', alg: 'EdDSA' };
}

export function loadSigningKeys(opts: SigningKeyOptions): SigningKeys {
  const { kid, privateKey } = loadOrGenerate(opts);
  assertEd25519(privateKey, 'EXPORT_SIGNING_KEY');
  const keys: Jwk[] = [publicJwk(kid, createPublicKey(privateKey))];
  for (const [oldKid, pem] of Object.entries(opts.previousPublicKeys ?? {})) {
    if (oldKid === kid) continue;
    const pub = createPublicKey(pem);
    assertEd25519(pub, `EXPORT_PREVIOUS_PUBLIC_KEYS.${oldKid}`);
    keys.push(publicJwk(oldKid, pub));
  }
  return {
    keyId: kid,
    // Ed25519 takes no digest argument: the algorithm hashes the message itself (pure EdDSA).
    sign: (data) => sign(null, data, privateKey).toString('base64'),
    jwks: { keys },
  };
}

let cached: { key: string; keys: SigningKeys } | undefined;

/** The keys for a configuration, loaded once per process (the API and the workers each load them). */
export function signingKeysFor(config: {
  mode: string;
  dataDir: string;
  credit: {
    signing: {
      privateKeyPem: string | undefined;
      keyId: string | undefined;
      previousPublicKeys: Readonly<Record<string, string>>;
    };
  };
}): SigningKeys {
  const key = `${config.dataDir}|${config.credit.signing.keyId ?? ''}`;
  if (!cached || cached.key !== key) {
    const s = config.credit.signing;
    cached = {
      key,
      keys: loadSigningKeys({
        ...(s.privateKeyPem ? { privateKeyPem: s.privateKeyPem } : {}),
        ...(s.keyId ? { keyId: s.keyId } : {}),
        previousPublicKeys: s.previousPublicKeys,
        ...(config.mode === 'local' ? { keyDir: path.join(config.dataDir, 'keys') } : {}),
      }),
    };
  }
  return cached.keys;
}

/**
 * Resident ID numbers (居民身份证号码, GB 11643-1999) of volunteers: checked, masked and replaced
 * by a keyed hash. The full number is never stored, returned or logged:
 *
 * - `idHash` = HMAC-SHA256(VOLUNTEER_ID_KEY, "cn-resident-id:" + number) stands for it. A unique
 *   index on it keeps one volunteer per person, and without the key the hash cannot be reversed
 *   by trying the ~10^10 plausible numbers of a county (a plain SHA-256 could).
 * - `idNumberMasked` (e.g. 6201**********123X) is what people see.
 *
 * Decided against storing it encrypted: nothing in the service needs the number back, and what
 * is not stored cannot leak. A county that must report full numbers to the national volunteer
 * system (志愿中国) would need an encrypted field; that is not built.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const ID_RE = /^\d{17}[\dX]$/;
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';

/** The check character of the first 17 digits (ISO 7064 MOD 11-2). */
export function idCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * WEIGHTS[i]!;
  return CHECK_CHARS[sum % 11]!;
}

/** The canonical form (trimmed, upper-case X), or undefined when it is not a valid number. */
export function normaliseIdNumber(raw: string): string | undefined {
  const n = raw.trim().toUpperCase();
  if (!ID_RE.test(n)) return undefined;
  const birth = `${n.slice(6, 10)}-${n.slice(10, 12)}-${n.slice(12, 14)}`;
  const d = new Date(`${birth}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== birth || birth < '1900-01-01')
    return undefined;
  if (idCheckChar(n.slice(0, 17)) !== n[17]) return undefined;
  return n;
}

/** The form people see: the first four and last four characters. */
export function maskIdNumber(n: string): string {
  return `${n.slice(0, 4)}${'*'.repeat(n.length - 8)}${n.slice(-4)}`;
}

export interface IdNumberHasher {
  hash(normalised: string): string;
}

export function createIdNumberHasher(key: Buffer): IdNumberHasher {
  if (key.length < 32) throw new Error('the volunteer ID key must be at least 32 bytes');
  return { hash: (n) => createHmac('sha256', key).update(`cn-resident-id:${n}`).digest('hex') };
}

/**
 * The key: VOLUNTEER_ID_KEY, else (local mode) one generated once in `keyDir` and kept there,
 * written aside and linked into place so that the API and the workers starting together agree.
 */
export function loadIdNumberKey(opts: { keyBase64?: string; keyDir?: string }): Buffer {
  if (opts.keyBase64) return Buffer.from(opts.keyBase64, 'base64');
  if (!opts.keyDir) throw new Error('VOLUNTEER_ID_KEY is required outside local mode');
  mkdirSync(opts.keyDir, { recursive: true, mode: 0o700 });
  const file = path.join(opts.keyDir, 'volunteer-id.key');
  if (!existsSync(file)) {
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(tmp, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    try {
      linkSync(tmp, file);
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
  }
  return Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
}

/** The hasher of a configuration (local mode keeps its key in DATA_DIR/keys). */
export function idNumberHasherFor(config: {
  mode: string;
  dataDir: string;
  volunteerIdKey: string | undefined;
}): IdNumberHasher {
  return createIdNumberHasher(
    loadIdNumberKey({
      keyBase64: config.volunteerIdKey,
      keyDir: config.mode === 'local' ? path.join(config.dataDir, 'keys') : undefined,
    }),
  );
}

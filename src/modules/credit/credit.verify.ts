/**
 * Offline verification of a credit export, with nothing but the file, its manifest and the
 * public keys (JWKS): what a bank runs before loading an export into its rating system, and what
 * `npm run cli -- verify-export FILE MANIFEST JWKS` does. No database, no network.
 *
 * Checks, in order: the manifest names a key the JWKS holds (Ed25519, OKP); the Ed25519 signature
 * over the file's exact bytes verifies with it; the file's SHA-256 is the manifest's; the file has
 * the header and as many data rows as the manifest says, each with the manifest's asOf and
 * modelVersion.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { parse } from 'csv-parse/sync';
import { CSV_HEADER } from './credit.csv';

export interface VerifyResult {
  ok: boolean;
  /** What was checked and found right. */
  checks: string[];
  /** What is wrong; empty when ok. */
  problems: string[];
}

interface ManifestLike {
  sha256?: unknown;
  rows?: unknown;
  asOf?: unknown;
  modelVersion?: unknown;
  keyId?: unknown;
  signature?: unknown;
}

interface JwkLike {
  kty?: unknown;
  crv?: unknown;
  x?: unknown;
  kid?: unknown;
}

/** Findings so far: what was checked and found right, and what is wrong. */
interface Findings {
  checks: string[];
  problems: string[];
}

/**
 * The manifest's key from the JWKS and the Ed25519 signature over the file's exact bytes. Returns
 * false when the rest cannot be checked (no usable key or signature).
 */
function checkSignature(
  file: Buffer,
  manifest: ManifestLike,
  jwksJson: unknown,
  { checks, problems }: Findings,
): boolean {
  const keys = Array.isArray((jwksJson as { keys?: unknown } | null)?.keys)
    ? (jwksJson as { keys: JwkLike[] }).keys
    : undefined;
  if (!keys) {
    problems.push('the JWKS has no "keys" array');
    return false;
  }
  if (
    typeof manifest.keyId !== 'string' ||
    typeof manifest.signature !== 'string' ||
    typeof manifest.sha256 !== 'string'
  ) {
    problems.push('the manifest lacks keyId, signature or sha256');
    return false;
  }
  const jwk = keys.find((k) => k && k.kid === manifest.keyId);
  if (!jwk) {
    problems.push(`no key "${manifest.keyId}" in the JWKS`);
    return false;
  }
  if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') {
    problems.push(`key "${manifest.keyId}" is not an Ed25519 (OKP) public key`);
    return false;
  }
  let signatureOk = false;
  try {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, format: 'jwk' });
    signatureOk = verify(null, file, key, Buffer.from(manifest.signature, 'base64'));
  } catch (err) {
    problems.push(`the key or signature cannot be read: ${(err as Error).message}`);
    return false;
  }
  if (signatureOk) checks.push(`Ed25519 signature verifies with key ${manifest.keyId}`);
  else
    problems.push(
      `the Ed25519 signature does not verify with key ${manifest.keyId}: the file is not the one that was signed`,
    );
  return true;
}

/** The header, the number of data rows, and each row's asOf and modelVersion against the manifest. */
function checkRows(file: Buffer, manifest: ManifestLike, { checks, problems }: Findings): void {
  let records: string[][];
  try {
    // Files since the byte-order mark was added start with it; older ones do not.
    records = parse(file, { bom: true, relax_column_count: false }) as string[][];
  } catch (err) {
    problems.push(`the file is not valid CSV: ${(err as Error).message}`);
    return;
  }
  const [header, ...rows] = records;
  if (!header || header.join(',') !== CSV_HEADER.join(','))
    problems.push(`unexpected header row: ${header?.join(',') ?? '(none)'}`);
  if (rows.length === manifest.rows) checks.push(`${rows.length} data rows, as the manifest says`);
  else
    problems.push(
      `the file has ${rows.length} data rows, the manifest says ${String(manifest.rows)}`,
    );
  const asOfCol = CSV_HEADER.indexOf('asOf');
  const modelCol = CSV_HEADER.indexOf('modelVersion');
  const off = rows.findIndex(
    (r) => r[asOfCol] !== manifest.asOf || r[modelCol] !== manifest.modelVersion,
  );
  if (off >= 0)
    problems.push(
      `row ${off + 1} has asOf/modelVersion ${rows[off]![asOfCol]}/${rows[off]![modelCol]}, the manifest says ${String(manifest.asOf)}/${String(manifest.modelVersion)}`,
    );
  else if (rows.length)
    checks.push(
      `every row is as of ${String(manifest.asOf)} under model ${String(manifest.modelVersion)}`,
    );
}

/** Verifies an export; never throws for bad input, reports it. */
export function verifyExport(file: Buffer, manifestJson: unknown, jwksJson: unknown): VerifyResult {
  const findings: Findings = { checks: [], problems: [] };
  const { checks, problems } = findings;
  const done = () => ({ ok: problems.length === 0, checks, problems });
  const manifest = (manifestJson ?? {}) as ManifestLike;
  if (!checkSignature(file, manifest, jwksJson, findings)) return done();

  const sha256 = createHash('sha256').update(file).digest('hex');
  if (sha256 === manifest.sha256) checks.push(`SHA-256 ${sha256} matches the manifest`);
  else
    problems.push(`SHA-256 of the file is ${sha256}, the manifest says ${String(manifest.sha256)}`);

  checkRows(file, manifest, findings);
  return done();
}

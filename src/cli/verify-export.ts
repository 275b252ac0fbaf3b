/**
 * `verify-export FILE MANIFEST JWKS`: checks a credit export offline (no database, no network)
 * with the public keys alone; the checks are in src/modules/credit/credit.verify.ts. Prints one
 * line per check and ends with VERIFIED or NOT VERIFIED; exit 0 only when every check passed.
 */
import { readFileSync } from 'node:fs';
import { verifyExport, type VerifyResult } from '../modules/credit/credit.verify';

export class VerifyInputError extends Error {}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new VerifyInputError(
      `cannot read the ${what} ${file} (${(err as { code?: string }).code ?? (err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new VerifyInputError(`the ${what} ${file} is not JSON`);
  }
}

/** Reads the three files and verifies; throws VerifyInputError when a file cannot be read. */
export function verifyExportFiles(
  file: string,
  manifestFile: string,
  jwksFile: string,
): VerifyResult {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new VerifyInputError(
      `cannot read the export file ${file} (${(err as { code?: string }).code ?? (err as Error).message})`,
    );
  }
  return verifyExport(bytes, readJson(manifestFile, 'manifest'), readJson(jwksFile, 'JWKS'));
}

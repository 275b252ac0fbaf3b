/**
 * Whole-village exports (整村授信) for a cooperative: a CSV of the consenting households' scores
 * as of one instant, and a manifest signed with Ed25519 so the bank can check, offline, that the
 * file is the one this service wrote.
 *
 * Invariants:
 * - Only households of the requested villages (inside the cooperative's service area) whose
 *   consent to this cooperative is valid when the export runs (the disclosure) appear, with their
 *   score at asOf, whenever the consent was given; each is recorded as an inquiry of that
 *   household (once, however often the job is retried).
 * - The file starts with a UTF-8 byte-order mark (Excel and WPS then read the Chinese right); the
 *   SHA-256 and the signature cover the file's exact bytes, the mark included.
 * - Constant memory and linear time in the number of rows: each collection (households of the
 *   villages, the cooperative's consents and revocations, entries up to asOf) is streamed once
 *   into partition files by household (credit.partitions.ts), and one partition at a time is
 *   joined and scored (an export of one partition's size is joined in memory as it streams, with
 *   the same bound); rows are written to the file as they come and hashed while written. Only
 *   the signing step reads the finished file back whole, because Ed25519 (pure EdDSA, what
 *   `openssl pkeyutl -rawin` verifies) hashes the message twice and cannot be streamed.
 * - The file is written under a temporary name and renamed when complete; the record says
 *   `done` only after the file, its SHA-256 and its signature exist. A retried job starts over.
 * - The file is stored on disk under CREDIT_EXPORT_DIR (DATA_DIR/exports), not in Redis or the
 *   database: it can be large, and FerretDB has no GridFS guarantees worth relying on.
 *
 * This file holds the export's record (create, status, manifest, file, failure, sweeper); the run,
 * stage by stage, is credit.export-run.ts; the file's format is credit.csv.ts.
 */
import assert from 'node:assert/strict';
import { createReadStream, statSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Types } from 'mongoose';
import { DomainError, notFound, validationError } from '../../platform/errors';
import { cutText } from '../../platform/text';
import type { Principal } from '../../platform/principal';
import type { z } from '../../platform/validation';
import { findCooperative } from '../cooperatives/cooperatives.service';
import { settledBefore } from './credit.inputs';
import { CreditExport, type CreditExportDoc } from './credit.model';
import type { exportStatusSchema, manifestSchema } from './credit.schemas';
import { CURRENT_MODEL } from './credit.score';

export const EXPORT_QUEUE = 'credit-export';
export const exportJobId = (exportId: string) => `export-${exportId}`;
/** Villages one export may cover (a county has ~200; a city office exports per county). */
export const EXPORT_VILLAGES_MAX = 5000;

export type ExportStatusView = z.infer<typeof exportStatusSchema>;
export type ManifestView = z.infer<typeof manifestSchema>;

function toStatusView(d: CreditExportDoc): ExportStatusView {
  const v: ExportStatusView = {
    id: d._id.toHexString(),
    status: d.status,
    progress: d.progress,
    villageIds: [...d.villageIds],
    asOf: d.asOf.toISOString(),
    modelVersion: d.modelVersion,
    createdAt: d.createdAt.toISOString(),
  };
  if (d.rows !== undefined && d.rows !== null) v.rows = d.rows;
  if (d.error) v.error = d.error;
  return v;
}

export function exportFilePath(exportDir: string, exportId: string): string {
  assert.ok(/^[a-f0-9]{24}$/.test(exportId));
  return path.join(exportDir, `${exportId}.csv`);
}

/** Creates the export record; the caller enqueues the job. */
export async function createExport(
  p: Principal,
  input: { villageIds: string[]; asOf?: Date },
): Promise<CreditExportDoc> {
  const cooperative = p.cooperativeId ? await findCooperative(p.cooperativeId) : undefined;
  if (!cooperative) throw new DomainError('forbidden', 'This officer belongs to no cooperative.');
  const villageIds = [...new Set(input.villageIds)];
  const outside = villageIds
    .map((v, i) => ({ v, i }))
    .filter(({ v }) => !cooperative.villageIds.includes(v));
  if (outside.length)
    throw validationError(
      outside.map(({ i }) => ({
        path: `villageIds.${i}`,
        message: 'not in the cooperative’s service area',
      })),
    );
  const now = new Date();
  const [doc] = await CreditExport.create([
    {
      cooperativeId: cooperative._id.toHexString(),
      officerId: p.id,
      villageIds,
      asOf: input.asOf ?? settledBefore(),
      modelVersion: CURRENT_MODEL.version,
      status: 'queued',
      progress: 0,
      createdAt: now,
      updatedAt: now,
    },
  ]);
  return doc!.toObject();
}

/** An export of the officer's own cooperative, else not_found. */
async function exportInReach(p: Principal, exportId: string): Promise<CreditExportDoc> {
  const d = Types.ObjectId.isValid(exportId)
    ? await CreditExport.findById(exportId).lean<CreditExportDoc>()
    : null;
  if (!d || d.cooperativeId !== p.cooperativeId) throw notFound('export');
  return d;
}

export async function getExportStatus(p: Principal, exportId: string): Promise<ExportStatusView> {
  return toStatusView(await exportInReach(p, exportId));
}

function assertDone(d: CreditExportDoc): asserts d is CreditExportDoc & {
  rows: number;
  sha256: string;
  keyId: string;
  signature: string;
} {
  if (d.status !== 'done' || d.rows === undefined || !d.sha256 || !d.keyId || !d.signature) {
    throw new DomainError(
      'export_not_ready',
      `The export is ${d.status}; its file and manifest exist once it is done.`,
      { exportStatus: d.status },
    );
  }
}

export async function getManifest(p: Principal, exportId: string): Promise<ManifestView> {
  const d = await exportInReach(p, exportId);
  assertDone(d);
  return {
    exportId: d._id.toHexString(),
    cooperativeId: d.cooperativeId,
    villageIds: [...d.villageIds],
    sha256: d.sha256,
    rows: d.rows,
    asOf: d.asOf.toISOString(),
    modelVersion: d.modelVersion,
    keyId: d.keyId,
    algorithm: 'Ed25519',
    signature: d.signature,
  };
}

/** The finished file as a stream, with its size and hash (for Content-Length and Repr-Digest). */
export async function openExportFile(
  p: Principal,
  exportId: string,
  exportDir: string,
): Promise<{ stream: Readable; bytes: number; sha256: string }> {
  const d = await exportInReach(p, exportId);
  assertDone(d);
  const file = exportFilePath(exportDir, exportId);
  let bytes: number;
  try {
    bytes = statSync(file).size;
  } catch {
    throw new DomainError(
      'unavailable',
      'The export file is missing from this server’s export folder.',
    );
  }
  return { stream: createReadStream(file), bytes, sha256: d.sha256 };
}

/** Sets an export's status, progress or result, and its `updatedAt` (what the sweeper watches). */
export async function setExportStatus(
  exportId: Types.ObjectId,
  set: Partial<CreditExportDoc>,
): Promise<void> {
  await CreditExport.updateOne({ _id: exportId }, { $set: { ...set, updatedAt: new Date() } });
}

/** Marks an export failed for good (a business rule refused it, or the job ran out of attempts). */
export async function failExport(exportId: string, reason: string): Promise<void> {
  if (!Types.ObjectId.isValid(exportId)) return;
  await setExportStatus(new Types.ObjectId(exportId), {
    status: 'failed',
    error: cutText(reason, 500),
  });
}

/** Exports whose job made no progress for `staleMs` (lost with Redis, or a crashed worker). */
export async function staleExports(staleMs: number, limit = 100): Promise<string[]> {
  const docs = await CreditExport.find({
    status: { $in: ['queued', 'running'] },
    updatedAt: { $lt: new Date(Date.now() - staleMs) },
  })
    .select({ _id: 1 })
    .limit(limit)
    .lean<{ _id: Types.ObjectId }[]>();
  return docs.map((x) => x._id.toHexString());
}

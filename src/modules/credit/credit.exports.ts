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
 *   joined and scored; rows are written to the file as they come and hashed while written. Only
 *   the signing step reads the finished file back whole, because Ed25519 (pure EdDSA, what
 *   `openssl pkeyutl -rawin` verifies) hashes the message twice and cannot be streamed.
 * - The file is written under a temporary name and renamed when complete; the record says
 *   `done` only after the file, its SHA-256 and its signature exist. A retried job starts over.
 * - The file is stored on disk under CREDIT_EXPORT_DIR (DATA_DIR/exports), not in Redis or the
 *   database: it can be large, and FerretDB has no GridFS guarantees worth relying on.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { DomainError, notFound, validationError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { cutText, graphemes } from '../../platform/text';
import type { Principal } from '../../platform/principal';
import { findCooperative } from '../cooperatives/cooperatives.service';
import {
  countHouseholdsOfVillages,
  streamHouseholdsOfVillages,
} from '../households/households.service';
import { recordInquiriesOnce } from '../inquiries/inquiries.service';
import { findVillage } from '../villages/villages.service';
import {
  memoisedVillageTotals,
  memoiseVillageTotals,
  neighbourLevel,
  settledBefore,
  type VillageTotals,
} from './credit.inputs';
import type { SigningKeys } from './credit.keys';
import {
  Consent,
  ConsentRevocation,
  CreditExport,
  type ConsentDoc,
  type ConsentRevocationDoc,
  type CreditExportDoc,
} from './credit.model';
import {
  computeScore,
  CURRENT_MODEL,
  MODELS,
  villageLevelAt,
  villageWindow,
  type ModelWeights,
} from './credit.score';
import type { CreditSettings } from './credit.service';
import { consentValidAt } from './consents.service';
import {
  partitionCount,
  PartitionWriter,
  readPartition,
  removePartitions,
} from './credit.partitions';
import { streamEntries, type EntryType } from '../ledger/ledger.service';

export const EXPORT_QUEUE = 'credit-export';
export const exportJobId = (exportId: string) => `export-${exportId}`;
/** Villages one export may cover (a county has ~200; a city office exports per county). */
export const EXPORT_VILLAGES_MAX = 5000;
/** Inquiries written per batch. */
const INQUIRY_BATCH = 1000;

/** First character of every export file: U+FEFF, the bytes EF BB BF. */
export const UTF8_BOM = '\uFEFF';

export const CSV_HEADER = [
  'householdId',
  'customerRef',
  'headName',
  'villageCode',
  'villageName',
  'score',
  'grade',
  'reasonCodes',
  'asOf',
  'modelVersion',
] as const;

export interface ExportStatusView {
  id: string;
  status: CreditExportDoc['status'];
  progress: number;
  rows?: number;
  villageIds: string[];
  asOf: string;
  modelVersion: string;
  createdAt: string;
  error?: string;
}

export interface ManifestView {
  exportId: string;
  cooperativeId: string;
  villageIds: string[];
  sha256: string;
  rows: number;
  asOf: string;
  modelVersion: string;
  keyId: string;
  algorithm: 'Ed25519';
  signature: string;
}

/** 张*明: the first and last characters kept, every one between hidden; 张* for two. */
export function maskName(name: string): string {
  const chars = graphemes(name.trim());
  if (chars.length <= 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}

/**
 * One CSV field (RFC 4180). Text that a spreadsheet would run as a formula (=, +, -, @, tab,
 * CR first) is prefixed with an apostrophe, since customer references and names come from users.
 */
export function csvField(value: string | number): string {
  let s = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const csvLine = (fields: (string | number)[]) => `${fields.map(csvField).join(',')}\r\n`;

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

export interface RunExportDeps {
  keys: SigningKeys;
  exportDir: string;
  settings: CreditSettings;
  log: Logger;
  /** Reports progress (0–100) to the job. */
  onProgress?: (progress: number) => Promise<void>;
}

async function setStatus(exportId: Types.ObjectId, set: Partial<CreditExportDoc>): Promise<void> {
  await CreditExport.updateOne({ _id: exportId }, { $set: { ...set, updatedAt: new Date() } });
}

/** Entry types that can move a score; spending is not even read. */
const SCORED_TYPES: readonly EntryType[] = ['award', 'deduction', 'adjustment', 'reversal'];

/** Streams the four collections into partitions (one pass each, no sort, no `$in` of ids). */
async function partitionInputs(d: CreditExportDoc, parts: PartitionWriter): Promise<number> {
  let households = 0;
  for await (const h of streamHouseholdsOfVillages(d.villageIds)) {
    await parts.household({
      id: h.id,
      villageId: h.villageId,
      head: h.head,
      createdAt: h.createdAt.getTime(),
    });
    households++;
  }
  const cCursor = Consent.find({ cooperativeId: d.cooperativeId })
    .select({ _id: 1, householdId: 1, grantedAt: 1, expiresAt: 1, customerRef: 1 })
    .lean<ConsentDoc[]>()
    .cursor({ batchSize: 1000 });
  for await (const c of cCursor) {
    await parts.consent(c.householdId, {
      id: c._id.toHexString(),
      grantedAt: c.grantedAt.getTime(),
      expiresAt: c.expiresAt.getTime(),
      ...(c.customerRef ? { customerRef: c.customerRef } : {}),
    });
  }
  const rCursor = ConsentRevocation.find({ cooperativeId: d.cooperativeId })
    .lean<ConsentRevocationDoc[]>()
    .cursor({ batchSize: 1000 });
  for await (const r of rCursor)
    await parts.revocation(r.householdId, r._id, r.revokedAt.getTime());
  for await (const e of streamEntries(SCORED_TYPES, { through: d.asOf })) {
    await parts.entry(e.householdId, {
      seq: e.seq,
      type: e.type,
      meritDelta: e.meritDelta,
      createdAt: e.createdAt.getTime(),
      ...(e.ruleCode ? { ruleCode: e.ruleCode } : {}),
    });
  }
  await parts.close();
  return households;
}

/**
 * The village totals the export needs: memoised ones from the database, missing ones summed over
 * the partitions (which hold every household of the export's villages and their entries) and
 * memoised for next time. Memory: one number pair per village.
 */
async function villageTotalsFromPartitions(
  model: ModelWeights,
  d: CreditExportDoc,
  dir: string,
  count: number,
): Promise<Map<string, VillageTotals>> {
  const totals = await memoisedVillageTotals(model, d.villageIds, d.asOf);
  const missing = d.villageIds.filter((v) => !totals.has(v));
  if (!missing.length) return totals;
  const levelAt = villageLevelAt(d.asOf);
  const { from, to } = villageWindow(model, levelAt);
  for (const v of missing) totals.set(v, { levelAt, households: 0, awardPoints: 0 });
  for (let i = 0; i < count; i++) {
    const p = await readPartition(dir, i);
    for (const h of p.households.values()) {
      const t = totals.get(h.villageId);
      if (!t || !missing.includes(h.villageId) || h.createdAt > levelAt.getTime()) continue;
      t.households++;
      for (const e of p.entries.get(h.id) ?? [])
        if (e.type === 'award' && e.createdAt > from.getTime() && e.createdAt <= to.getTime())
          t.awardPoints += e.meritDelta;
    }
  }
  for (const v of missing) await memoiseVillageTotals(model, v, totals.get(v)!);
  return totals;
}

/**
 * Runs one export end to end. Idempotent: a finished export is left alone; anything else starts
 * over from empty files.
 */
export async function runExport(
  exportId: string,
  deps: RunExportDeps,
): Promise<{ rows: number; sha256: string } | undefined> {
  const d = Types.ObjectId.isValid(exportId)
    ? await CreditExport.findById(exportId).lean<CreditExportDoc>()
    : null;
  if (!d) throw new DomainError('not_found', `No export ${exportId}.`);
  if (d.status === 'done' || d.status === 'failed') return undefined;
  const model = MODELS[d.modelVersion];
  if (!model) throw new DomainError('validation_failed', `Unknown model ${d.modelVersion}.`);
  await setStatus(d._id, { status: 'running', progress: 0 });

  mkdirSync(deps.exportDir, { recursive: true, mode: 0o700 });
  const final = exportFilePath(deps.exportDir, exportId);
  const temp = `${final}.part`;
  const workDir = `${final}.work`;
  removePartitions(workDir);
  let lastProgress = -1;
  const progress = async (value: number) => {
    const p = Math.min(99, Math.floor(value)); // 100 only once the file is signed
    if (p <= lastProgress) return;
    lastProgress = p;
    await setStatus(d._id, { progress: p });
    await deps.onProgress?.(p);
  };

  const villages = new Map<string, { code: string; name: string }>();
  for (const v of d.villageIds) {
    const doc = await findVillage(v);
    villages.set(v, { code: doc?.code ?? '', name: doc?.name ?? '' });
  }
  // Consent governs the disclosure, which happens now: a consent valid now covers the score at
  // any asOf (also one given after asOf, such as a paper form recorded just before the request).
  const instants = [clock.now().getTime()];
  const asOfIso = d.asOf.toISOString();
  const hash = createHash('sha256');
  let rows = 0;
  let households = 0;

  try {
    const count = partitionCount(await countHouseholdsOfVillages(d.villageIds));
    households = await partitionInputs(d, new PartitionWriter(workDir, count));
    await progress(30);
    const totals = await villageTotalsFromPartitions(model, d, workDir, count);
    await progress(35);

    const out = createWriteStream(temp, { mode: 0o600 });
    const write = async (text: string) => {
      const buf = Buffer.from(text, 'utf8');
      hash.update(buf);
      if (!out.write(buf)) await once(out, 'drain');
    };
    try {
      await write(`${UTF8_BOM}${csvLine([...CSV_HEADER])}`);
      for (let i = 0; i < count; i++) {
        const p = await readPartition(workDir, i);
        let inquiries: Parameters<typeof recordInquiriesOnce>[0] = [];
        for (const h of p.households.values()) {
          const consent = consentValidAt(
            p.consents.get(h.id) ?? [],
            (id) => p.revokedAt.get(id),
            instants,
          );
          if (!consent) continue;
          const own = (p.entries.get(h.id) ?? []).filter((e) => e.createdAt <= d.asOf.getTime());
          const village = neighbourLevel(
            model,
            totals.get(h.villageId)!,
            { createdAt: new Date(h.createdAt) },
            own,
          );
          const r = computeScore(
            { asOf: d.asOf, entries: own, village },
            model,
            deps.settings.gradeThresholds,
          );
          const v = villages.get(h.villageId)!;
          await write(
            csvLine([
              h.id,
              consent.customerRef ?? '',
              maskName(h.head),
              v.code,
              v.name,
              r.score,
              r.grade,
              r.reasons.map((x) => x.code).join('|'),
              asOfIso,
              r.modelVersion,
            ]),
          );
          rows++;
          inquiries.push({
            key: `export:${exportId}:${h.id}`,
            inquiry: {
              householdId: h.id,
              officerId: d.officerId,
              cooperativeId: d.cooperativeId,
              purpose: `整村授信导出（导出编号 ${exportId}）`,
              result: 'exported',
              at: d.createdAt,
            },
          });
          if (inquiries.length >= INQUIRY_BATCH) {
            await recordInquiriesOnce(inquiries);
            inquiries = [];
          }
        }
        await recordInquiriesOnce(inquiries);
        await progress(35 + (64 * (i + 1)) / count);
      }
      out.end();
      await once(out, 'finish');
    } catch (err) {
      out.destroy();
      rmSync(temp, { force: true });
      throw err;
    }
  } finally {
    removePartitions(workDir);
  }

  const sha256 = hash.digest('hex');
  // Read back what is on disk and check it is what was hashed before signing it.
  const bytes = readFileSync(temp);
  assert.equal(
    createHash('sha256').update(bytes).digest('hex'),
    sha256,
    'the export file on disk differs from what was written',
  );
  const signature = deps.keys.sign(bytes);
  renameSync(temp, final);
  await setStatus(d._id, {
    status: 'done',
    progress: 100,
    rows,
    sha256,
    keyId: deps.keys.keyId,
    signature,
    finishedAt: new Date(),
  });
  deps.log.info({ exportId, rows, households, sha256 }, 'credit export done');
  return { rows, sha256 };
}

/** Marks an export failed for good (a business rule refused it, or the job ran out of attempts). */
export async function failExport(exportId: string, reason: string): Promise<void> {
  if (!Types.ObjectId.isValid(exportId)) return;
  await setStatus(new Types.ObjectId(exportId), { status: 'failed', error: cutText(reason, 500) });
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

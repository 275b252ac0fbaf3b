/**
 * Running one export (the job's work), stage by stage: partition the inputs, total the villages,
 * write and hash the rows, sign the file. The invariants are those of credit.exports.ts: constant
 * memory (one partition at a time), the file hashed while written and renamed only when complete,
 * `done` only once the file, its SHA-256 and its signature exist, and each exported household
 * recorded as an inquiry once however often the job is retried.
 */
import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { DomainError } from '../../platform/errors';
import type { Logger } from '../../platform/logger';
import { countHouseholdsOfVillages } from '../households/households.service';
import { recordInquiriesOnce } from '../inquiries/inquiries.service';
import { findVillage } from '../villages/villages.service';
import { consentValidAt } from './consents.service';
import { entriesReadFor, partitionInputs } from './credit.export-inputs';
import { CSV_HEADER, csvLine, maskName, UTF8_BOM } from './credit.csv';
import { exportFilePath, setExportStatus } from './credit.exports';
import {
  memoisedVillageTotals,
  memoiseVillageTotals,
  neighbourLevel,
  type VillageTotals,
} from './credit.inputs';
import type { SigningKeys } from './credit.keys';
import { CreditExport, type CreditExportDoc } from './credit.model';
import {
  MemoryPartition,
  partitionCount,
  PartitionWriter,
  removePartitions,
  type PartHousehold,
  type Partition,
  type PartitionSink,
} from './credit.partitions';
import {
  computeScore,
  MODELS,
  villageLevelAt,
  villageWindow,
  type ModelWeights,
} from './credit.score';
import type { CreditSettings } from './credit.service';

/** Inquiries written per batch. */
const INQUIRY_BATCH = 1000;

export interface RunExportDeps {
  keys: SigningKeys;
  exportDir: string;
  settings: CreditSettings;
  log: Logger;
  /** Reports progress (0–100) to the job. */
  onProgress?: (progress: number) => Promise<void>;
}

/**
 * The village totals the export needs: memoised ones from the database, missing ones summed over
 * the partitions (which hold every household of the export's villages and their entries) and
 * memoised for next time. Memory: one number pair per village.
 */
async function villageTotalsFromPartitions(
  model: ModelWeights,
  d: CreditExportDoc,
  parts: PartitionSink,
): Promise<Map<string, VillageTotals>> {
  const totals = await memoisedVillageTotals(model, d.villageIds, d.asOf);
  const missing = d.villageIds.filter((v) => !totals.has(v));
  if (!missing.length) return totals;
  const levelAt = villageLevelAt(d.asOf);
  const { from, to } = villageWindow(model, levelAt);
  for (const v of missing) totals.set(v, { levelAt, households: 0, awardPoints: 0 });
  for (let i = 0; i < parts.count; i++) {
    const p = await parts.read(i);
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

/** What writing the rows needs besides the partitions: the export, its model and the lookups. */
interface RowContext {
  d: CreditExportDoc;
  exportId: string;
  model: ModelWeights;
  settings: CreditSettings;
  totals: Map<string, VillageTotals>;
  villages: Map<string, { code: string; name: string }>;
  /** When the consent must be valid: the disclosure, i.e. when the export runs. */
  instants: number[];
}

/** The export's villages' codes and names, for every row. */
async function villageNames(d: CreditExportDoc): Promise<RowContext['villages']> {
  const villages = new Map<string, { code: string; name: string }>();
  for (const v of d.villageIds) {
    const doc = await findVillage(v);
    villages.set(v, { code: doc?.code ?? '', name: doc?.name ?? '' });
  }
  return villages;
}

/** One household's row, or undefined without a valid consent to the export's cooperative. */
function rowOf(h: PartHousehold, p: Partition, ctx: RowContext): string | undefined {
  const { d, model } = ctx;
  const consent = consentValidAt(
    p.consents.get(h.id) ?? [],
    (id) => p.revokedAt.get(id),
    ctx.instants,
  );
  if (!consent) return undefined;
  const own = (p.entries.get(h.id) ?? []).filter((e) => e.createdAt <= d.asOf.getTime());
  const village = neighbourLevel(
    model,
    ctx.totals.get(h.villageId)!,
    { createdAt: new Date(h.createdAt) },
    own,
  );
  const r = computeScore(
    { asOf: d.asOf, entries: own, village },
    model,
    ctx.settings.gradeThresholds,
  );
  const v = ctx.villages.get(h.villageId)!;
  return csvLine([
    h.id,
    consent.customerRef ?? '',
    maskName(h.head),
    v.code,
    v.name,
    r.score,
    r.grade,
    r.reasons.map((x) => x.code).join('|'),
    d.asOf.toISOString(),
    r.modelVersion,
  ]);
}

/** Writes one partition's rows and records each exported household as an inquiry (once). */
async function writePartition(
  p: Partition,
  ctx: RowContext,
  write: (text: string) => Promise<void>,
): Promise<number> {
  const { d, exportId } = ctx;
  let rows = 0;
  let inquiries: Parameters<typeof recordInquiriesOnce>[0] = [];
  // One batch of inquiries is written while the next rows are scored; all are written before
  // the partition counts as done (and so before the export is).
  let pending: Promise<void> = Promise.resolve();
  const flush = async () => {
    await pending;
    pending = recordInquiriesOnce(inquiries);
    pending.catch(() => undefined); // awaited (and thrown) at the next flush or at the end
    inquiries = [];
  };
  for (const h of p.households.values()) {
    const row = rowOf(h, p, ctx);
    if (row === undefined) continue;
    await write(row);
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
    if (inquiries.length >= INQUIRY_BATCH) await flush();
  }
  await flush();
  await pending;
  return rows;
}

/**
 * Writes the file under its temporary name, hashing every byte as it goes; removes it if
 * anything fails. Returns the rows written.
 */
async function writeRows(
  temp: string,
  hash: Hash,
  parts: PartitionSink,
  ctx: RowContext,
  progress: (value: number) => Promise<void>,
): Promise<number> {
  const out = createWriteStream(temp, { mode: 0o600 });
  const write = async (text: string) => {
    const buf = Buffer.from(text, 'utf8');
    hash.update(buf);
    if (!out.write(buf)) await once(out, 'drain');
  };
  let rows = 0;
  try {
    await write(`${UTF8_BOM}${csvLine([...CSV_HEADER])}`);
    for (let i = 0; i < parts.count; i++) {
      rows += await writePartition(await parts.read(i), ctx, write);
      await progress(35 + (64 * (i + 1)) / parts.count);
    }
    out.end();
    await once(out, 'finish');
  } catch (err) {
    out.destroy();
    rmSync(temp, { force: true });
    throw err;
  }
  return rows;
}

/**
 * Signs the written file (read back and checked against the hash taken while writing), gives it
 * its final name and only then marks the export done.
 */
async function signAndFinish(
  d: CreditExportDoc,
  files: { temp: string; final: string },
  written: { rows: number; sha256: string },
  keys: SigningKeys,
): Promise<void> {
  // Read back what is on disk and check it is what was hashed before signing it.
  const bytes = readFileSync(files.temp);
  assert.equal(
    createHash('sha256').update(bytes).digest('hex'),
    written.sha256,
    'the export file on disk differs from what was written',
  );
  const signature = keys.sign(bytes);
  renameSync(files.temp, files.final);
  await setExportStatus(d._id, {
    status: 'done',
    progress: 100,
    rows: written.rows,
    sha256: written.sha256,
    keyId: keys.keyId,
    signature,
    finishedAt: new Date(),
  });
}

/** The export to run, or undefined when it is already finished (done or failed). */
async function runnableExport(
  exportId: string,
): Promise<{ d: CreditExportDoc; model: ModelWeights } | undefined> {
  const d = Types.ObjectId.isValid(exportId)
    ? await CreditExport.findById(exportId).lean<CreditExportDoc>()
    : null;
  if (!d) throw new DomainError('not_found', `No export ${exportId}.`);
  if (d.status === 'done' || d.status === 'failed') return undefined;
  const model = MODELS[d.modelVersion];
  if (!model) throw new DomainError('validation_failed', `Unknown model ${d.modelVersion}.`);
  return { d, model };
}

/** Progress reports that only move forward and stay below 100 until the file is signed. */
function progressReporter(d: CreditExportDoc, deps: RunExportDeps) {
  let lastProgress = -1;
  return async (value: number) => {
    const p = Math.min(99, Math.floor(value)); // 100 only once the file is signed
    if (p <= lastProgress) return;
    lastProgress = p;
    await setExportStatus(d._id, { progress: p });
    await deps.onProgress?.(p);
  };
}

/**
 * Runs one export end to end. Idempotent: a finished export is left alone; anything else starts
 * over from empty files.
 */
export async function runExport(
  exportId: string,
  deps: RunExportDeps,
): Promise<
  | {
      rows: number;
      sha256: string;
      stagesMs: Record<string, number>;
      entriesRead: 'chains' | 'pass';
    }
  | undefined
> {
  const stagesMs: Record<string, number> = {};
  let t0 = performance.now();
  const lap = (stage: string) => {
    const t = performance.now();
    stagesMs[stage] = Math.round(t - t0);
    t0 = t;
  };
  const runnable = await runnableExport(exportId);
  if (!runnable) return undefined;
  const { d, model } = runnable;
  await setExportStatus(d._id, { status: 'running', progress: 0 });

  mkdirSync(deps.exportDir, { recursive: true, mode: 0o700 });
  const final = exportFilePath(deps.exportDir, exportId);
  const temp = `${final}.part`;
  const workDir = `${final}.work`;
  removePartitions(workDir);
  const progress = progressReporter(d, deps);
  const villages = await villageNames(d);
  // Consent governs the disclosure, which happens now: a consent valid now covers the score at
  // any asOf (also one given after asOf, such as a paper form recorded just before the request).
  const instants = [clock.now().getTime()];
  const hash = createHash('sha256');
  let rows = 0;
  let households = 0;
  let how: 'chains' | 'pass' = 'pass';

  try {
    lap('start');
    const inVillages = await countHouseholdsOfVillages(d.villageIds);
    const count = partitionCount(inVillages);
    how = await entriesReadFor(inVillages);
    lap('count');
    // One partition: joined in memory as it streams; more: spread over files on disk.
    const parts = count === 1 ? new MemoryPartition() : new PartitionWriter(workDir, count);
    households = await partitionInputs(d, parts, how);
    await progress(30);
    lap('partition');
    const totals = await villageTotalsFromPartitions(model, d, parts);
    await progress(35);
    lap('totals');
    const ctx = { d, exportId, model, settings: deps.settings, totals, villages, instants };
    rows = await writeRows(temp, hash, parts, ctx, progress);
    lap('rows');
  } finally {
    removePartitions(workDir);
  }

  const sha256 = hash.digest('hex');
  await signAndFinish(d, { temp, final }, { rows, sha256 }, deps.keys);
  lap('sign');
  deps.log.info(
    { exportId, rows, households, entriesRead: how, sha256, stagesMs },
    'credit export done',
  );
  return { rows, sha256, stagesMs, entriesRead: how };
}

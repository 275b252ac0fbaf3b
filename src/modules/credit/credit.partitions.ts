/**
 * The export's join of households, consents, revocations and entries, in constant memory and
 * linear time on any backend.
 *
 * Why not one query per chunk of households: on FerretDB's SQLite backend no filter but `_id`
 * equality reaches an index, and `{householdId: {$in: [...5,000 ids]}}` compares every document
 * with every id (measured: a 5,000-household chunk against 90,000 consents took minutes). So the
 * export reads each collection once, as a plain stream, and spreads the rows over P partition
 * files on local disk by household id (a Grace hash join). A partition then holds every record of
 * about PARTITION_HOUSEHOLDS households and is joined in memory; households are written first, so
 * while reading a partition everything of a household outside the export is dropped at once.
 *
 * Memory: one partition's households and their records, whatever the export's size. Disk: the
 * streamed rows, removed when the export ends. An export that fits in one partition (at most
 * PARTITION_HOUSEHOLDS households) is joined in memory as it streams (MemoryPartition), with the
 * same rule and the same bound, and writes nothing to disk.
 */
import { createReadStream, createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import type { ScoreEntry } from './credit.score';

/** Target households per partition (a few MB of records when joined). */
export const PARTITION_HOUSEHOLDS = 5000;
/** Open files at once; beyond this partitions grow instead (a city-wide export of 1.25 M households). */
export const PARTITIONS_MAX = 250;

export interface PartHousehold {
  id: string;
  villageId: string;
  head: string;
  createdAt: number;
}
export interface PartConsent {
  id: string;
  grantedAt: number;
  expiresAt: number;
  customerRef?: string;
}
export interface PartEntry extends ScoreEntry {
  seq: number;
  createdAt: number;
}

/** Everything of one partition: its households, and their consents, revocations and entries. */
export interface Partition {
  households: Map<string, PartHousehold>;
  consents: Map<string, PartConsent[]>;
  revokedAt: Map<string, number>;
  entries: Map<string, PartEntry[]>;
}

type Line =
  | { k: 'h'; h: PartHousehold }
  | { k: 'c'; hid: string; c: PartConsent }
  | { k: 'r'; hid: string; id: string; t: number }
  | { k: 'e'; hid: string; e: PartEntry };

export function partitionCount(households: number): number {
  return Math.max(1, Math.min(PARTITIONS_MAX, Math.ceil(households / PARTITION_HOUSEHOLDS)));
}

/** The partition of a household: ObjectId hex ends in a counter, so its last digits spread evenly. */
export function partitionOf(householdId: string, count: number): number {
  return parseInt(householdId.slice(-6), 16) % count;
}

/** Where the export's streams go, and how its partitions are read back. */
export interface PartitionSink {
  readonly count: number;
  household(h: PartHousehold): Promise<void>;
  consent(householdId: string, c: PartConsent): Promise<void>;
  revocation(householdId: string, consentId: string, revokedAt: number): Promise<void>;
  entry(householdId: string, e: PartEntry): Promise<void>;
  close(): Promise<void>;
  read(index: number): Promise<Partition>;
}

const emptyPartition = (): Partition => ({
  households: new Map(),
  consents: new Map(),
  revokedAt: new Map(),
  entries: new Map(),
});

function pushTo<T>(m: Map<string, T[]>, key: string, v: T) {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

/**
 * The one partition of a small export, joined in memory as the streams arrive: the same rule as
 * readPartition (households come first; a record of any other household is dropped at once).
 */
export class MemoryPartition implements PartitionSink {
  readonly count = 1;
  private readonly p = emptyPartition();

  household(h: PartHousehold) {
    this.p.households.set(h.id, h);
    return Promise.resolve();
  }
  consent(householdId: string, c: PartConsent) {
    if (this.p.households.has(householdId)) pushTo(this.p.consents, householdId, c);
    return Promise.resolve();
  }
  revocation(householdId: string, consentId: string, revokedAt: number) {
    if (this.p.households.has(householdId)) this.p.revokedAt.set(consentId, revokedAt);
    return Promise.resolve();
  }
  entry(householdId: string, e: PartEntry) {
    if (this.p.households.has(householdId)) pushTo(this.p.entries, householdId, e);
    return Promise.resolve();
  }
  close() {
    for (const list of this.p.entries.values()) list.sort((a, b) => a.seq - b.seq);
    return Promise.resolve();
  }
  read(index: number) {
    if (index !== 0) throw new RangeError(`no partition ${index}`);
    return Promise.resolve(this.p);
  }
}

export class PartitionWriter implements PartitionSink {
  private readonly files: WriteStream[];

  constructor(
    readonly dir: string,
    readonly count: number,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.files = Array.from({ length: count }, (_, i) =>
      createWriteStream(path.join(dir, `p${i}.jsonl`), { mode: 0o600 }),
    );
  }

  private async write(householdId: string, line: Line): Promise<void> {
    const f = this.files[partitionOf(householdId, this.count)]!;
    if (!f.write(`${JSON.stringify(line)}\n`)) await once(f, 'drain');
  }

  household(h: PartHousehold) {
    return this.write(h.id, { k: 'h', h });
  }
  consent(householdId: string, c: PartConsent) {
    return this.write(householdId, { k: 'c', hid: householdId, c });
  }
  revocation(householdId: string, consentId: string, revokedAt: number) {
    return this.write(householdId, { k: 'r', hid: householdId, id: consentId, t: revokedAt });
  }
  entry(householdId: string, e: PartEntry) {
    return this.write(householdId, { k: 'e', hid: householdId, e });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.files.map(async (f) => {
        f.end();
        await once(f, 'finish');
      }),
    );
  }

  read(index: number): Promise<Partition> {
    return readPartition(this.dir, index);
  }
}

/** Reads one partition, keeping only records of its households (which come first in the file). */
export async function readPartition(dir: string, index: number): Promise<Partition> {
  const p = emptyPartition();
  const rl = readline.createInterface({
    input: createReadStream(path.join(dir, `p${index}.jsonl`), { encoding: 'utf8' }),
    crlfDelay: Infinity,
  });
  for await (const text of rl) {
    if (!text) continue;
    const line = JSON.parse(text) as Line;
    if (line.k === 'h') p.households.set(line.h.id, line.h);
    else if (!p.households.has(line.hid)) continue;
    else if (line.k === 'c') pushTo(p.consents, line.hid, line.c);
    else if (line.k === 'r') p.revokedAt.set(line.id, line.t);
    else pushTo(p.entries, line.hid, line.e);
  }
  for (const list of p.entries.values()) list.sort((a, b) => a.seq - b.seq);
  return p;
}

export function removePartitions(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

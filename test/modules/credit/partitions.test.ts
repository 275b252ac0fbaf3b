/**
 * The export's two joins give the same partitions: records spread over files on disk and read
 * back (PartitionWriter, exports of more than PARTITION_HOUSEHOLDS households), and the one
 * partition of a small export joined in memory as it streams (MemoryPartition). The export tests
 * run small exports, so this is where the disk path is held to the memory path.
 */
import path from 'node:path';
import { Types } from 'mongoose';
import { expect } from '../../support/expect';
import {
  MemoryPartition,
  PartitionWriter,
  removePartitions,
  type Partition,
  type PartitionSink,
} from '../../../src/modules/credit/credit.partitions';
import { tempDir } from '../../support/temp';

const ids = Array.from({ length: 40 }, () => new Types.ObjectId().toHexString());
const members = ids.slice(0, 30);
const strangers = ids.slice(30);

/** The same streams the export sends: households first, then consents, revocations, entries. */
async function feed(sink: PartitionSink): Promise<void> {
  for (const [i, id] of members.entries())
    await sink.household({ id, villageId: `v${i % 3}`, head: `户主${i}`, createdAt: 1_000 + i });
  for (const [i, id] of ids.entries()) {
    await sink.consent(id, { id: `c${i}`, grantedAt: 10, expiresAt: 99_999, customerRef: `R${i}` });
    if (i % 4 === 0) await sink.consent(id, { id: `d${i}`, grantedAt: 20, expiresAt: 30 });
    if (i % 5 === 0) await sink.revocation(id, `c${i}`, 50 + i);
  }
  for (const [i, id] of ids.entries())
    for (const seq of [3, 1, 2].slice(0, 1 + (i % 3)))
      await sink.entry(id, {
        seq,
        type: seq === 2 ? 'deduction' : 'award',
        meritDelta: seq === 2 ? -i : i + seq,
        createdAt: 5_000 + seq * 100 + i,
        ...(i % 7 === 0 ? { ruleCode: 'best-family' } : {}),
      });
  await sink.close();
}

/** A partition as plain, order-independent data. */
function plain(p: Partition) {
  const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
  return {
    households: sorted(p.households),
    consents: sorted(p.consents),
    revokedAt: sorted(p.revokedAt),
    entries: sorted(p.entries),
  };
}

describe('credit export partitions', () => {
  it('joined in memory equals spread over files and read back', async () => {
    const memory = new MemoryPartition();
    await feed(memory);
    const dir = tempDir('partitions');
    try {
      for (const count of [1, 3]) {
        const disk = new PartitionWriter(path.join(dir, String(count)), count);
        await feed(disk);
        const merged: Partition = {
          households: new Map(),
          consents: new Map(),
          revokedAt: new Map(),
          entries: new Map(),
        };
        for (let i = 0; i < count; i++) {
          const p = await disk.read(i);
          for (const k of ['households', 'consents', 'revokedAt', 'entries'] as const)
            for (const [key, v] of p[k]) (merged[k] as Map<string, unknown>).set(key, v);
        }
        expect(plain(merged), `${count} partitions`).to.deep.equal(plain(await memory.read(0)));
      }
    } finally {
      removePartitions(dir);
    }
    const p = await memory.read(0);
    expect(p.households.size).to.equal(members.length);
    for (const s of strangers) expect(p.entries.has(s) || p.consents.has(s)).to.equal(false);
    for (const list of p.entries.values())
      expect(list.map((e) => e.seq)).to.deep.equal([...list.map((e) => e.seq)].sort());
  });
});

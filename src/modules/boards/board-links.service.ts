/**
 * Board links: a revocable credential per village station screen (see board-links.model.ts).
 *
 * - BL1 A link's secret is shown once, when it is created; the service stores only its SHA-256.
 * - BL2 A screen holding a link reads its own village's boards and nothing else.
 * - BL3 A revoked link opens nothing from the next request on; revoking again changes nothing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Types } from 'mongoose';
import { clock } from '../../platform/clock';
import { DomainError, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { findVillage } from '../villages/villages.service';
import { BoardLink, type BoardLinkDoc } from './board-links.model';
import { boardsOf, type BoardsView } from './boards.service';
import type { z } from '../../platform/validation';
import type { linkSchema } from './boards.schemas';

/** 32 random bytes, base64url: 43 characters. */
const SECRET_RE = /^[A-Za-z0-9_-]{43}$/;

export type BoardLinkView = z.infer<typeof linkSchema>;

const hashOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

const toView = (d: BoardLinkDoc): BoardLinkView => ({
  id: d.linkId,
  villageId: d.villageId,
  label: d.label,
  createdBy: d.createdBy,
  createdAt: d.createdAt.toISOString(),
  revokedAt: d.revokedAt ? d.revokedAt.toISOString() : null,
});

async function villageInReach(p: Principal, villageId: string): Promise<void> {
  if (!reachesVillage(p, villageId) || !(await findVillage(villageId))) throw notFound('village');
}

/** Creates a link for one screen; the answer carries the secret, which is never shown again. */
export async function createBoardLink(
  p: Principal,
  villageId: string,
  label: string,
): Promise<BoardLinkView & { secret: string }> {
  await villageInReach(p, villageId);
  return insertBoardLink(villageId, label, p.id);
}

/** Stores a new link (its hash) and returns it with its secret; no reach check (the demo seed). */
export async function insertBoardLink(
  villageId: string,
  label: string,
  createdBy: string,
): Promise<BoardLinkView & { secret: string }> {
  const secret = randomBytes(32).toString('base64url');
  const doc: BoardLinkDoc = {
    _id: hashOf(secret),
    linkId: new Types.ObjectId().toHexString(),
    villageId,
    label,
    createdBy,
    createdAt: clock.now(),
  };
  await BoardLink.create(doc);
  return { ...toView(doc), secret };
}

export async function listBoardLinks(
  p: Principal,
  villageId: string,
): Promise<{ items: BoardLinkView[] }> {
  await villageInReach(p, villageId);
  const docs = await BoardLink.find({ villageId }).sort({ createdAt: -1 }).lean<BoardLinkDoc[]>();
  return { items: docs.map(toView) };
}

export async function revokeBoardLink(
  p: Principal,
  villageId: string,
  linkId: string,
): Promise<BoardLinkView> {
  await villageInReach(p, villageId);
  const doc = await BoardLink.findOne({ linkId }).lean<BoardLinkDoc>();
  if (!doc || doc.villageId !== villageId) throw notFound('board link');
  if (doc.revokedAt) return toView(doc);
  const revokedAt = clock.now();
  await BoardLink.updateOne({ _id: doc._id }, { $set: { revokedAt, revokedBy: p.id } });
  return toView({ ...doc, revokedAt, revokedBy: p.id });
}

export type BoardDisplayView = BoardsView & { villageName: string; label: string };

/** The boards a screen shows: one lone-`_id` read decides whether the link still opens them. */
export async function boardDisplay(
  secret: string | undefined,
  month: string,
): Promise<BoardDisplayView> {
  const invalid = () =>
    new DomainError('board_link_invalid', 'The board link is unknown or has been revoked.');
  if (!secret || !SECRET_RE.test(secret)) throw invalid();
  const link = await BoardLink.findById(hashOf(secret)).lean<BoardLinkDoc>();
  if (!link || link.revokedAt) throw invalid();
  const village = await findVillage(link.villageId);
  if (!village) throw invalid();
  return {
    ...(await boardsOf(link.villageId, month)),
    villageName: village.name,
    label: link.label,
  };
}

/**
 * Red and black lists (道德红黑榜) of a village for a month.
 *
 * - Red: the month's posted awards. Black: the month's posted deductions whose 30-day appeal
 *   window has closed without an upheld appeal (a pending appeal keeps it off until decided).
 * - Names are masked (张三明 → 张*明) unless the household consented to be named.
 * - A village may switch the black list off, and an entry drops off the black list once the
 *   village's retention period has passed since the appeal window closed (PIPL art. 25:
 *   publishing a person's conduct is personal information, kept no longer than needed).
 */
import { clock } from '../../platform/clock';
import { DomainError, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { graphemes } from '../../platform/text';
import { villageRankOf } from '../rankings/rankings.service';
import { findHousehold, householdInReach } from '../households/households.service';
import {
  APPEAL_WINDOW_MS,
  listPostedLines,
  type PostedLine,
} from '../submissions/submissions.service';
import { findVillage } from '../villages/villages.service';
import {
  BoardConsent,
  BoardSettings,
  type BoardConsentDoc,
  type BoardSettingsDoc,
} from './boards.model';
import type { z } from '../../platform/validation';
import type { boardRow, boardsSchema, consentSchema, settingsSchema } from './boards.schemas';

export const DEFAULT_BOARD_SETTINGS = {
  blackListEnabled: true,
  blackListRetentionDays: 90,
} as const;
const DAY_MS = 24 * 3600_000;

/** Masks a name for a public board: first and last character (grapheme) stay, the rest become `*`. */
export function maskName(name: string): string {
  const chars = graphemes(name.trim());
  if (chars.length <= 1) return '*';
  if (chars.length === 2) return `${chars[0]}*`;
  return `${chars[0]}${'*'.repeat(chars.length - 2)}${chars[chars.length - 1]}`;
}

export type BoardSettingsView = z.infer<typeof settingsSchema>;

async function settingsOf(villageId: string): Promise<BoardSettingsView> {
  const s = await BoardSettings.findById(villageId).lean<BoardSettingsDoc>();
  return s
    ? {
        villageId,
        blackListEnabled: s.blackListEnabled,
        blackListRetentionDays: s.blackListRetentionDays,
        updatedAt: s.updatedAt.toISOString(),
      }
    : { villageId, ...DEFAULT_BOARD_SETTINGS, updatedAt: null };
}

async function villageInReach(p: Principal, villageId: string): Promise<void> {
  if (!reachesVillage(p, villageId)) throw notFound('village');
  if (!(await findVillage(villageId))) throw notFound('village');
}

export async function getBoardSettings(
  p: Principal,
  villageId: string,
): Promise<BoardSettingsView> {
  await villageInReach(p, villageId);
  return settingsOf(villageId);
}

export async function setBoardSettings(
  p: Principal,
  villageId: string,
  input: { blackListEnabled?: boolean; blackListRetentionDays?: number },
): Promise<BoardSettingsView> {
  await villageInReach(p, villageId);
  const current = await settingsOf(villageId);
  await BoardSettings.updateOne(
    { _id: villageId },
    {
      $set: {
        blackListEnabled: input.blackListEnabled ?? current.blackListEnabled,
        blackListRetentionDays: input.blackListRetentionDays ?? current.blackListRetentionDays,
        updatedBy: p.id,
        updatedAt: clock.now(),
      },
    },
    { upsert: true },
  );
  return settingsOf(villageId);
}

export type ConsentView = z.infer<typeof consentSchema>;

/** The household (or a clerk recording its signed form) says whether it may be named in full. */
export async function setBoardConsent(
  p: Principal,
  householdId: string,
  input: { named: boolean; formRef?: string },
): Promise<ConsentView> {
  await householdInReach(p, householdId);
  if (p.role === 'clerk' && !input.formRef) {
    throw new DomainError('validation_failed', 'A clerk records a signed form.', {
      errors: [{ path: 'formRef', message: 'required when a clerk records the consent' }],
    });
  }
  const set: Record<string, unknown> = {
    named: input.named,
    recordedBy: p.id,
    recordedAt: clock.now(),
  };
  const update: Record<string, unknown> = { $set: set };
  if (input.formRef) set.formRef = input.formRef;
  else update.$unset = { formRef: 1 };
  await BoardConsent.updateOne({ _id: householdId }, update, { upsert: true });
  const c = (await BoardConsent.findById(householdId).lean<BoardConsentDoc>())!;
  return {
    householdId,
    named: c.named,
    ...(c.formRef ? { formRef: c.formRef } : {}),
    recordedAt: c.recordedAt.toISOString(),
  };
}

export type BoardRow = z.infer<typeof boardRow>;

export type BoardsView = z.infer<typeof boardsSchema>;

function monthRange(month: string): [Date, Date] {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return [new Date(Date.UTC(y, m - 1, 1)), new Date(Date.UTC(y, m, 1))];
}

/** True when a posted deduction belongs on the black list at `now`. */
export function onBlackList(
  line: Pick<PostedLine, 'kind' | 'postedAt' | 'appealStatus'>,
  retentionDays: number,
  now: Date,
): boolean {
  if (line.kind !== 'deduction') return false;
  const windowClosesAt = line.postedAt.getTime() + APPEAL_WINDOW_MS;
  if (now.getTime() < windowClosesAt) return false;
  if (line.appealStatus === 'pending' || line.appealStatus === 'upheld') return false;
  return now.getTime() < windowClosesAt + retentionDays * DAY_MS;
}

export async function getBoards(
  p: Principal,
  villageId: string,
  month: string,
): Promise<BoardsView> {
  await villageInReach(p, villageId);
  return boardsOf(villageId, month);
}

/** A village's boards of a month, for a caller already known to reach the village. */
export async function boardsOf(villageId: string, month: string): Promise<BoardsView> {
  const settings = await settingsOf(villageId);
  const now = clock.now();
  const [from, to] = monthRange(month);
  const lines = await listPostedLines(villageId, from, to);
  const red = lines.filter((l) => l.kind === 'award');
  const black = settings.blackListEnabled
    ? lines.filter((l) => onBlackList(l, settings.blackListRetentionDays, now))
    : [];

  const ids = [...new Set([...red, ...black].map((l) => l.householdId))];
  const [households, consents] = await Promise.all([
    Promise.all(ids.map((id) => findHousehold(id))),
    BoardConsent.find({ _id: { $in: ids } }).lean<BoardConsentDoc[]>(),
  ]);
  const heads = new Map(ids.map((id, i) => [id, households[i]?.head ?? '']));
  const named = new Set(consents.filter((c) => c.named).map((c) => c._id));

  const rows = (ls: PostedLine[]): BoardRow[] => {
    const byHousehold = new Map<string, BoardRow>();
    for (const l of ls) {
      let row = byHousehold.get(l.householdId);
      if (!row) {
        const full = named.has(l.householdId);
        const head = heads.get(l.householdId) ?? '';
        row = { name: full ? head : maskName(head), named: full, points: 0, items: [] };
        byHousehold.set(l.householdId, row);
      }
      row.points += l.points;
      row.items.push({
        ruleTitle: l.ruleTitle,
        points: l.points,
        occurredOn: l.occurredOn,
        postedAt: l.postedAt.toISOString(),
      });
    }
    return [...byHousehold.values()].sort((a, b) => Math.abs(b.points) - Math.abs(a.points));
  };
  return {
    villageId,
    month,
    red: rows(red),
    black: rows(black),
    blackListEnabled: settings.blackListEnabled,
    blackListRetentionDays: settings.blackListRetentionDays,
    ranking: await villageRankOf((await findVillage(villageId))?.countyId, villageId, month),
  };
}

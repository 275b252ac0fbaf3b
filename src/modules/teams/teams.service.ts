/**
 * Volunteer teams and their members.
 *
 * Invariants:
 * - TM1 membership is append-only: each join and leave is a link of the (team, volunteer) chain,
 *   decided against its head, so a volunteer is never in a team twice at once and a leave needs
 *   a join before it; the history of who served when is never edited.
 * - TM2 a team belongs to exactly one county and level; a village team to one village, a township
 *   team to one township. Who may manage it follows the level (the village's clerk, the
 *   township station, the county office).
 */
import { Types } from 'mongoose';
import { AppendChain } from '../../platform/append-chain';
import { clock } from '../../platform/clock';
import {
  DomainError,
  forbidden,
  isDuplicateKeyError,
  notFound,
  validationError,
} from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { findTownship } from '../levels/levels.service';
import { resolveCounty } from '../levels/levels.views';
import { hasCategory } from '../service-menu/service-menu.service';
import { findVillage } from '../villages/villages.service';
import { findVolunteer, volunteerInReach } from '../volunteers/volunteers.service';
import {
  Team,
  TeamMembership,
  TeamRoster,
  type MembershipLinkDoc,
  type RosterDoc,
  type TeamDoc,
  type TeamLevel,
} from './teams.model';
import type { z } from '../../platform/validation';
import type { membershipSchema, teamDetailSchema, teamSchema } from './teams.schemas';

/** Members listed per team: a village team has tens, a county team a few hundred. */
const ROSTER_MAX = 5000;
/** Teams listed at once (a county has ~300). */
const TEAMS_MAX = 5000;

const memberships = new AppendChain<MembershipLinkDoc>(TeamMembership, 'team-membership');
const chainOf = (teamId: string, volunteerId: string) => `${teamId}:${volunteerId}`;

export type TeamView = z.infer<typeof teamSchema>;

export function toTeamView(t: TeamDoc): TeamView {
  const v: TeamView = {
    id: t._id.toHexString(),
    name: t.name,
    category: t.category,
    level: t.level,
    countyId: t.countyId,
    createdAt: t.createdAt.toISOString(),
  };
  if (t.townshipId) v.townshipId = t.townshipId;
  if (t.villageId) v.villageId = t.villageId;
  return v;
}

export async function findTeam(teamId: string): Promise<TeamDoc | undefined> {
  if (!Types.ObjectId.isValid(teamId)) return undefined;
  return (await Team.findById(teamId).lean<TeamDoc>()) ?? undefined;
}

/** TM2: whether a principal manages a team (creates it, changes its members). */
export function managesTeam(
  p: Principal,
  t: Pick<TeamDoc, 'level' | 'townshipId' | 'villageId'>,
): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'township':
      return (
        (t.level === 'township' && t.townshipId === p.townshipId) ||
        (t.level === 'village' && Boolean(t.villageId) && reachesVillage(p, t.villageId!))
      );
    case 'clerk':
      return t.level === 'village' && t.villageId === p.villageId;
    case 'council':
    case 'household':
    case 'officer':
    case 'supervisor':
    case 'terminal':
      return false;
  }
}

/** The county, township and village a principal works in (for reading teams above its village). */
async function homeOf(
  p: Principal,
): Promise<{ countyId?: string; townshipId?: string; villageId?: string }> {
  if (p.role === 'township')
    return {
      townshipId: p.townshipId,
      countyId: p.townshipId ? (await findTownship(p.townshipId))?.countyId : undefined,
    };
  if (!p.villageId) return {};
  const v = await findVillage(p.villageId);
  return { villageId: p.villageId, townshipId: v?.townshipId, countyId: v?.countyId };
}

/**
 * Whether a principal may see a team: its managers, and the people of the village, township and
 * county it serves (a village sees its own teams and those of its township and county).
 */
export async function canSeeTeam(
  p: Principal,
  t: TeamDoc,
  knownHome?: Awaited<ReturnType<typeof homeOf>>,
): Promise<boolean> {
  if (managesTeam(p, t)) return true;
  if (p.volunteerId && (await isMember(t._id.toHexString(), p.volunteerId))) return true;
  if (!['township', 'clerk', 'council', 'supervisor', 'household'].includes(p.role)) return false;
  const home = knownHome ?? (await homeOf(p));
  if (t.level === 'county') return t.countyId === home.countyId;
  if (t.level === 'township') return t.townshipId === home.townshipId;
  return p.role === 'township' ? reachesVillage(p, t.villageId!) : t.villageId === home.villageId;
}

export async function teamInReach(p: Principal, teamId: string): Promise<TeamDoc> {
  const t = await findTeam(teamId);
  if (!t || !(await canSeeTeam(p, t))) throw notFound('team');
  return t;
}

export interface NewTeam {
  name: string;
  category: string;
  level: TeamLevel;
  villageId?: string;
  townshipId?: string;
  countyId?: string;
}

/** Where a new team belongs (TM2), from the body and the creator. */
async function placeTeam(
  p: Principal,
  input: NewTeam,
): Promise<Pick<TeamDoc, 'countyId' | 'townshipId' | 'villageId'>> {
  if (input.level === 'village') {
    const villageId = input.villageId ?? (p.role === 'clerk' ? p.villageId : undefined);
    const v = villageId && reachesVillage(p, villageId) ? await findVillage(villageId) : undefined;
    if (!v)
      throw validationError([
        {
          path: 'villageId',
          message: villageId ? 'no such village' : 'required for a village team',
        },
      ]);
    return { villageId, townshipId: v.townshipId, countyId: v.countyId! };
  }
  if (input.level === 'township') {
    const townshipId = input.townshipId ?? (p.role === 'township' ? p.townshipId : undefined);
    const t =
      townshipId && (p.role === 'admin' || p.townshipId === townshipId)
        ? await findTownship(townshipId)
        : undefined;
    if (!t)
      throw validationError([
        {
          path: 'townshipId',
          message: townshipId ? 'no such township' : 'required for a township team',
        },
      ]);
    return { townshipId, countyId: t.countyId };
  }
  if (p.role !== 'admin') throw forbidden('County teams are set up by the county office.');
  return { countyId: await resolveCounty(p, input.countyId) };
}

export async function createTeam(p: Principal, input: NewTeam): Promise<TeamView> {
  const place = await placeTeam(p, input);
  if (!managesTeam(p, { level: input.level, ...place }))
    throw forbidden('This role may not set up a team at that level.');
  if (!(await hasCategory(place.countyId, input.category)))
    throw validationError([
      { path: 'category', message: "not a category of the county's service menu" },
    ]);
  const doc: Record<string, unknown> = {
    name: input.name,
    category: input.category,
    level: input.level,
    createdBy: p.id,
  };
  for (const [k, v] of Object.entries(place)) if (v !== undefined) doc[k] = v;
  const [created] = await Team.create([doc]);
  return toTeamView(created!.toObject());
}

/** Whether a volunteer is in a team now: the head of their membership chain is a join (TM1). */
export async function isMember(teamId: string, volunteerId: string): Promise<boolean> {
  return (await memberships.head(chainOf(teamId, volunteerId)))?.type === 'join';
}

export type MembershipView = z.infer<typeof membershipSchema>;

const toMembershipView = (l: MembershipLinkDoc): MembershipView => ({
  teamId: l.teamId,
  volunteerId: l.volunteerId,
  type: l.type,
  seq: l.seq,
  at: l.at.toISOString(),
  by: l.by,
});

/** TM1: appends a join or a leave decided against the chain's head. */
async function changeMembership(
  p: Principal,
  teamId: string,
  volunteerId: string,
  type: 'join' | 'leave',
): Promise<MembershipView> {
  const source = { type: 'team-membership', id: new Types.ObjectId().toHexString() };
  const { link } = await memberships.append(chainOf(teamId, volunteerId), source, (head) => {
    if (type === 'join' && head?.type === 'join')
      throw new DomainError(
        'already_team_member',
        'This volunteer is already a member of the team.',
      );
    if (type === 'leave' && head?.type !== 'join')
      throw new DomainError('not_team_member', 'This volunteer is not a member of the team.');
    return { teamId, volunteerId, type, by: p.id, at: clock.now() };
  });
  if (type === 'join') {
    try {
      await TeamRoster.create([
        { _id: chainOf(teamId, volunteerId), teamId, volunteerId, firstJoinedAt: link.at },
      ]);
    } catch (err) {
      if (!isDuplicateKeyError(err)) throw err; // joined before: already on the roster
    }
  }
  return toMembershipView(link);
}

export async function addMember(
  p: Principal,
  teamId: string,
  volunteerId: string,
): Promise<MembershipView> {
  const team = await teamInReach(p, teamId);
  if (!managesTeam(p, team))
    throw forbidden(
      'Only the team’s village clerk, township station or the county office changes its members.',
    );
  const v = await findVolunteer(volunteerId);
  if (!v) throw validationError([{ path: 'volunteerId', message: 'no such volunteer' }]);
  await volunteerInReach(p, volunteerId).catch(() => {
    throw validationError([{ path: 'volunteerId', message: 'no such volunteer' }]);
  });
  if (v.countyId && v.countyId !== team.countyId)
    throw validationError([{ path: 'volunteerId', message: 'a volunteer of another county' }]);
  return changeMembership(p, teamId, volunteerId, 'join');
}

export async function removeMember(
  p: Principal,
  teamId: string,
  volunteerId: string,
): Promise<MembershipView> {
  const team = await teamInReach(p, teamId);
  if (!managesTeam(p, team))
    throw forbidden(
      'Only the team’s village clerk, township station or the county office changes its members.',
    );
  return changeMembership(p, teamId, volunteerId, 'leave');
}

export type TeamDetailView = z.infer<typeof teamDetailSchema>;

/** A team with its current members and the whole history of joins and leaves. */
export async function getTeam(p: Principal, teamId: string): Promise<TeamDetailView> {
  const team = await teamInReach(p, teamId);
  const roster = await TeamRoster.find({ teamId }).limit(ROSTER_MAX).lean<RosterDoc[]>();
  const history: MembershipLinkDoc[] = [];
  const members: TeamDetailView['members'] = [];
  for (const r of roster) {
    const links = (await memberships.list(chainOf(teamId, r.volunteerId), 0, 1000)).items;
    history.push(...links);
    const last = links[links.length - 1];
    if (last?.type === 'join')
      members.push({
        volunteerId: r.volunteerId,
        name: (await findVolunteer(r.volunteerId))?.name ?? '',
        since: last.at.toISOString(),
      });
  }
  history.sort(
    (a, b) =>
      a.at.getTime() - b.at.getTime() ||
      a.volunteerId.localeCompare(b.volunteerId) ||
      a.seq - b.seq,
  );
  members.sort(
    (a, b) => a.since.localeCompare(b.since) || a.volunteerId.localeCompare(b.volunteerId),
  );
  return { ...toTeamView(team), members, history: history.map(toMembershipView) };
}

/** Teams in reach, optionally of one level (a scan: a county has a few hundred teams). */
export async function listTeams(
  p: Principal,
  q: { level?: TeamLevel; villageId?: string },
): Promise<TeamView[]> {
  const filter: Record<string, unknown> = {};
  if (q.level) filter.level = q.level;
  if (q.villageId) filter.villageId = q.villageId;
  const docs = await Team.find(filter).sort({ _id: 1 }).limit(TEAMS_MAX).lean<TeamDoc[]>();
  const home = await homeOf(p);
  const visible: TeamDoc[] = [];
  for (const t of docs) if (await canSeeTeam(p, t, home)) visible.push(t);
  return visible.map(toTeamView);
}

/** Every team of a county (the rankings job). */
export async function listCountyTeams(countyId: string): Promise<TeamDoc[]> {
  return Team.find({ countyId }).sort({ _id: 1 }).limit(TEAMS_MAX).lean<TeamDoc[]>();
}

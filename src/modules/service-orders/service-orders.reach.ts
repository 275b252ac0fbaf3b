/**
 * Reach (O4): who may read an order, act for its village, or act for the team it went to.
 * Part of the volunteer service loop (service-orders.service.ts holds its invariants).
 */
import { forbidden, notFound } from '../../platform/errors';
import { reachesVillage, type Principal } from '../../platform/principal';
import { isMember } from '../teams/teams.service';
import type { TeamDoc } from '../teams/teams.model';
import { type ServiceOrderDoc } from './service-orders.model';
import { findOrder } from './service-orders.records';

/** Whether a principal may read an order. */
export async function canSeeOrder(p: Principal, o: ServiceOrderDoc): Promise<boolean> {
  if (p.role === 'household')
    return p.householdId === o.householdId || (await actsAsTeamMember(p, o.teamId));
  if (
    ['admin', 'township', 'clerk', 'council', 'supervisor'].includes(p.role) &&
    reachesVillage(p, o.villageId)
  )
    return true;
  return actsAsTeamMember(p, o.teamId);
}

/** A login linked to a volunteer who is now a member of the team. */
export async function actsAsTeamMember(p: Principal, teamId: string | undefined): Promise<boolean> {
  return Boolean(p.volunteerId && teamId && (await isMember(teamId, p.volunteerId)));
}

/** The village's clerk, its township station or the county office. */
export function actsForVillage(p: Principal, villageId: string): boolean {
  return (
    (p.role === 'admin' || p.role === 'township' || p.role === 'clerk') &&
    reachesVillage(p, villageId)
  );
}

export async function orderInReach(p: Principal, orderId: string): Promise<ServiceOrderDoc> {
  const o = await findOrder(orderId);
  if (!o || !(await canSeeOrder(p, o))) throw notFound('service order');
  return o;
}

/** Whether a team may serve an order: the order's village, its township, or its county. */
export function teamServes(team: TeamDoc, o: ServiceOrderDoc): boolean {
  if (team.level === 'village') return team.villageId === o.villageId;
  if (team.level === 'township') return Boolean(o.townshipId) && team.townshipId === o.townshipId;
  return team.countyId === o.countyId;
}

/** Whether a team may take an order: it serves the order's place and its category. */
export function teamFits(team: TeamDoc | undefined, o: ServiceOrderDoc): boolean {
  return Boolean(team) && teamServes(team!, o) && team!.category === o.categoryCode;
}

/** Who acts for the team: the station for it, or one of its members (O4); else `forbidden`. */
export async function checkTeamAction(
  p: Principal,
  o: ServiceOrderDoc,
  teamId: string,
): Promise<string> {
  if (actsForVillage(p, o.villageId)) return p.role;
  if (await actsAsTeamMember(p, teamId)) return 'team_member';
  throw forbidden('A member of the team (or the clerk for it) does this.');
}

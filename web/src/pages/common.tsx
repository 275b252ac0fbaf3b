/** Pieces several role pages share: the village's households, rules, submissions. */
import { useEffect, useState } from 'preact/hooks';
import { api, get } from '../api';
import { useDraft } from '../drafts';
import type { Entry, Household, Rule, Submission } from '../shapes';
import { beijing, pts } from '../format';
import { describeError, ENTRY_TYPES, STATUS_NAMES } from '../messages';
import { Badge, blobToDataUrl, useLoad } from '../ui';

export type { Household, Rule, Submission } from '../shapes';

/** Every household of a village (a village has hundreds), for names beside ids. */
export async function loadVillageHouseholds(villageId?: string): Promise<Household[]> {
  const all: Household[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await get<{ items: Household[]; next: string | null }>('/v1/households', {
      villageId,
      after,
      limit: 500,
    });
    all.push(...page.items);
    if (!page.next) return all;
    after = page.next;
  }
}

export function ruleLabel(
  r: Pick<
    Rule,
    'title' | 'kind' | 'points' | 'pointsPerUnit' | 'unit' | 'capPerMonth' | 'capPerYear'
  >,
): string {
  const sign = r.kind === 'award' ? '加' : '扣';
  const value =
    r.pointsPerUnit !== undefined
      ? `每${r.unit ?? '单位'}${sign}${r.pointsPerUnit}分`
      : `${sign}${r.points}分`;
  const caps = [
    r.capPerMonth ? `每月最多${r.capPerMonth}分` : '',
    r.capPerYear ? `每年最多${r.capPerYear}分` : '',
  ]
    .filter(Boolean)
    .join('，');
  return `${r.title}（${value}${caps ? `，${caps}` : ''}）`;
}

export function StatusBadge({ s }: { s: Pick<Submission, 'status' | 'round'> }) {
  const tone = s.status === 'posted' ? 'good' : s.status === 'rejected' ? 'bad' : 'wait';
  return (
    <Badge tone={tone}>
      {STATUS_NAMES[s.status] ?? s.status}
      {s.status === 'in_review' && s.round > 1 ? `（第${s.round}轮，曾被异议）` : ''}
    </Badge>
  );
}

const HISTORY_NAMES: Record<string, string> = {
  filed: '村文书提交',
  vote: '投票',
  notice_started: '开始公示',
  notice_ended: '公示期满',
  objected: '有人提出异议',
  rejected: '评议未通过',
  posted: '积分入账',
  appealed: '农户申诉',
  appeal_upheld: '申诉成立',
  appeal_dismissed: '申诉驳回',
  reversed: '已撤销扣分',
};

export function History({ items }: { items: NonNullable<Submission['history']> }) {
  return (
    <ol class="history">
      {items.map((h, i) => (
        <li key={i}>
          <time>{beijing(h.at)}</time> {HISTORY_NAMES[h.type] ?? h.type}
          {h.decision ? `：${h.decision === 'approve' ? '同意' : '不同意'}` : ''}
          {h.round ? `（第${h.round}轮）` : ''}
          {h.comment ? `，意见：${h.comment}` : ''}
          {h.reason ? `，理由：${h.reason}` : ''}
        </li>
      ))}
    </ol>
  );
}

/** Evidence photos, fetched with the token and shown as data: URLs. */
export function Photos({ refs }: { refs: string[] }) {
  const ids = refs
    .filter((r) => r.startsWith('attachment:'))
    .map((r) => r.slice('attachment:'.length));
  const [urls, setUrls] = useState<string[]>([]);
  useEffect(() => {
    let live = true;
    Promise.all(
      ids.map(async (id) =>
        blobToDataUrl(await api<Blob>(`/v1/attachments/${id}`, { as: 'blob' })),
      ),
    ).then(
      (u) => live && setUrls(u),
      () => undefined,
    );
    return () => {
      live = false;
    };
  }, [ids.join(',')]);
  if (!ids.length) return null;
  return (
    <div class="photos">
      {urls.map((u, i) => (
        <img key={i} src={u} alt={`证明照片 ${i + 1}`} />
      ))}
    </div>
  );
}

/** One submission: who, what, points, where it stands; details (evidence, history) on request. */
export function SubmissionSummary({
  s,
  names,
  children,
  inlineDetails,
  quorum,
}: {
  s: Submission;
  names: Map<string, string>;
  children?: preact.ComponentChildren;
  inlineDetails?: boolean;
  quorum?: number;
}) {
  const [open, setOpen] = useState(false);
  const detail = useLoad(
    () => (open ? get<Submission>(`/v1/submissions/${s.id}`) : Promise.resolve(undefined)),
    [open, s.id],
  );
  const who = s.batch
    ? `${s.lines.length} 户（批量）`
    : (names.get(s.householdId ?? '') ?? '本村农户');
  return (
    <article class="item" aria-label={`${who} ${s.ruleTitle}`}>
      <div class="item-head">
        <strong>{who}</strong>
        <span class={s.kind === 'award' ? 'plus' : 'minus'}>{pts(s.points)} 分</span>
      </div>
      <p>
        {s.ruleTitle}
        {!s.batch && s.lines[0]?.quantity !== undefined ? ` · 数量 ${s.lines[0].quantity}` : ''} ·
        发生于 {s.occurredOn} · <StatusBadge s={s} />
      </p>
      <p class="meta">
        {s.status === 'in_review'
          ? `本轮同意 ${s.approvals} 票${(s.quorum ?? quorum) ? `（需 ${s.quorum ?? quorum} 票才能进入公示）` : ''}，不同意 ${s.rejections} 票`
          : ''}
        {s.status === 'in_notice' && s.noticeEndsAt ? `公示至 ${beijing(s.noticeEndsAt)}` : ''}
        {s.status === 'posted' && s.postedAt ? `入账于 ${beijing(s.postedAt)}` : ''}
      </p>
      {s.capped ? <p class="meta">{s.capped.message}</p> : null}
      <p class="evidence">证明材料：{s.evidence.text}</p>
      {s.batch ? (
        <p class="meta">
          涉及：
          {s.lines.map((l) => `${names.get(l.householdId) ?? '农户'}（${l.points}分）`).join('、')}
        </p>
      ) : null}
      {inlineDetails ? null : (
        <button
          type="button"
          class="link-button"
          aria-expanded={open}
          onClick={() => setOpen(!open)}
        >
          {open ? '收起详情' : '查看照片和评议经过'}
        </button>
      )}
      {open && detail.data ? (
        <div class="detail">
          <Photos refs={detail.data.evidence.attachments} />
          {detail.data.history ? <History items={detail.data.history} /> : null}
        </div>
      ) : null}
      {children}
    </article>
  );
}

/** The caller's village council policy (quorum and notice period), for "需 N 票" beside a vote count. */
export function useVillagePolicy(villageId: string | undefined) {
  return useLoad(
    () =>
      villageId
        ? get<{ policy: { quorum: number; noticePeriod: string } }>(
            `/v1/villages/${villageId}`,
          ).then((v) => v.policy)
        : Promise.resolve(undefined),
    [villageId],
  );
}

/** A household's ledger entries, in the order given: date, type, points, reason, balance after. */
export function EntriesTable({
  entries,
  caption,
  class: cls,
}: {
  entries: Entry[];
  /** Read by screen readers only (say the order, where it matters). */
  caption: string;
  class?: string;
}) {
  return (
    <table class={cls}>
      <caption class="sr-only">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">日期</th>
          <th scope="col">类型</th>
          <th scope="col">积分</th>
          <th scope="col">原因</th>
          <th scope="col">可用余额</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((e) => (
          <tr key={e.seq}>
            <td class="nowrap">{beijing(e.createdAt, false)}</td>
            <td>{ENTRY_TYPES[e.type] ?? e.type}</td>
            <td class={e.points >= 0 ? 'plus' : 'minus'}>{pts(e.points)}</td>
            <td>{e.reason ?? e.ruleCode ?? ''}</td>
            <td>{e.spendableAfter}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** How the pages name a household: its head and card number. */
export const householdLabel = (h: Pick<Household, 'head' | 'cardNo'>): string =>
  `${h.head}（${h.cardNo}）`;

/** Household id → householdLabel, for names beside ids. */
export const householdNames = (households: Household[] | undefined): Map<string, string> =>
  new Map((households ?? []).map((h) => [h.id, householdLabel(h)]));

/**
 * A form that sends one written reason (an objection, an appeal): kept as a draft, required
 * (`missing` says what to write), sent once, then `ok` is said and the list reloads a moment
 * later. `refused` may word a refusal the general messages do not cover.
 */
export function useReasonForm(o: {
  draftKey: string;
  /** The field's label, also naming it in the API's field errors. */
  label: string;
  missing: string;
  ok: string;
  send: (reason: string) => Promise<unknown>;
  onDone: () => void;
  refused?: (err: unknown) => string | undefined;
}) {
  const [d, , clear, bind] = useDraft(o.draftKey, { reason: '' });
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  async function submit(e?: Event) {
    e?.preventDefault();
    if (!d.reason.trim()) {
      setResult({ error: o.missing });
      return;
    }
    try {
      await o.send(d.reason.trim());
      clear();
      setResult({ ok: o.ok });
      setTimeout(o.onDone, 1500);
    } catch (err) {
      setResult({ error: o.refused?.(err) ?? describeError(err, { reason: o.label }) });
    }
  }
  return { reason: d.reason, field: { label: o.label, ...bind('reason') }, result, submit };
}

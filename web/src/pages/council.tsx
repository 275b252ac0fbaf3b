/** 道德评议会: vote on what is in review (evidence and history at hand), watch the notice and objections. */
import { useMemo, useState } from 'preact/hooks';
import { get, post } from '../api';
import { useDraft } from '../drafts';
import { beijing } from '../format';
import { describeError } from '../messages';
import { session } from '../session';
import {
  Alert,
  byPath,
  Empty,
  LoadStatus,
  Outcome,
  RefreshButton,
  Section,
  Tabs,
  TextArea,
  useLoad,
} from '../ui';
import {
  History,
  householdNames,
  loadVillageHouseholds,
  Photos,
  type Submission,
  SubmissionSummary,
  useVillagePolicy,
} from './common';

const TABS = [
  { path: '/council', label: '待评议' },
  { path: '/council/notice', label: '公示中' },
  { path: '/council/objected', label: '被提出异议的' },
];

/** What a vote led to, in words. */
const OUTCOMES: Record<string, string> = {
  in_notice: '已达到规定票数，进入公示。',
  posted: '已达到规定票数；本村不设公示期，积分已入账。',
  rejected: '多数不同意，申报未通过。',
};

export function CouncilPage({ path }: { path: string }) {
  const households = useLoad(() => loadVillageHouseholds(), []);
  const names = useMemo(() => householdNames(households.data), [households.data]);
  return (
    <>
      <h1>道德评议会</h1>
      <Tabs tabs={TABS} current={path} />
      {byPath(
        path,
        {
          '/council/notice': <Notice names={names} />,
          '/council/objected': <Objected names={names} />,
        },
        <Queue names={names} />,
      )}
    </>
  );
}

function Queue({ names }: { names: Map<string, string> }) {
  const policy = useVillagePolicy(session.get()?.me.villageId);
  const list = useLoad(
    () => get<{ items: Submission[] }>('/v1/submissions', { status: 'in_review', limit: 100 }),
    [],
  );
  return (
    <Section title="等待评议的申报" actions={<RefreshButton onClick={list.reload} />}>
      <p class="lead">
        请看清证明材料和照片后投票。同意票达到规定人数后进入公示；公示期满无异议才入账。本户的事项您不能投票。
      </p>
      <LoadStatus of={list} />
      {list.data && !list.data.items.length ? <Empty>现在没有等待评议的申报。</Empty> : null}
      {list.data?.items.map((s) => (
        <VoteCard
          key={`${s.id}-${s.round}`}
          s={s}
          names={names}
          quorum={policy.data?.quorum}
          onVoted={list.reload}
        />
      ))}
    </Section>
  );
}

function VoteCard({
  s,
  names,
  onVoted,
  quorum,
}: {
  s: Submission;
  names: Map<string, string>;
  onVoted: () => void;
  quorum?: number;
}) {
  const detail = useLoad(() => get<Submission>(`/v1/submissions/${s.id}`), [s.id, s.round]);
  const [d, , clear, bind] = useDraft(`council-vote-${s.id}-${s.round}`, { comment: '' });
  const [result, setResult] = useState<{ ok?: string; error?: string }>({});
  const me = session.get()?.me;
  const mine = Boolean(me?.householdId && s.lines.some((l) => l.householdId === me.householdId));
  const voted = detail.data?.history?.some(
    (h) => h.type === 'vote' && h.by === me?.id && h.round === s.round,
  );
  const who = s.batch ? `${s.lines.length} 户` : (names.get(s.householdId ?? '') ?? '本村农户');

  async function vote(decision: 'approve' | 'reject') {
    if (decision === 'reject' && !d.comment.trim()) {
      setResult({ error: '投“不同意”时，请在“评议意见”中写明理由。' });
      return;
    }
    try {
      const after = await post<Submission>(`/v1/submissions/${s.id}/votes`, {
        decision,
        ...(d.comment.trim() ? { comment: d.comment.trim() } : {}),
      });
      clear();
      setResult({
        ok: `已投${decision === 'approve' ? '同意' : '不同意'}票。${OUTCOMES[after.status] ?? ''}`,
      });
      setTimeout(onVoted, 1200);
    } catch (err) {
      setResult({ error: describeError(err, { comment: '评议意见' }) });
    }
  }

  return (
    <SubmissionSummary s={s} names={names} inlineDetails quorum={quorum}>
      {detail.data ? (
        <div class="detail">
          <Photos refs={detail.data.evidence.attachments} />
          {detail.data.history ? <History items={detail.data.history} /> : null}
        </div>
      ) : null}
      {mine ? (
        <Alert kind="info">这是您本户的事项，按规定您不参加投票。</Alert>
      ) : voted ? (
        <Alert kind="info">您在本轮已经投过票了。</Alert>
      ) : (
        <div class="vote">
          <TextArea
            label={`对“${who}·${s.ruleTitle}”的评议意见`}
            name="comment"
            rows={2}
            {...bind('comment')}
            hint="同意时可不填；不同意时请写明理由。"
          />
          <div class="buttons">
            <button type="button" class="primary" onClick={() => vote('approve')}>
              同意
            </button>
            <button type="button" class="danger" onClick={() => vote('reject')}>
              不同意
            </button>
          </div>
        </div>
      )}
      <Outcome of={result} />
    </SubmissionSummary>
  );
}

function Notice({ names }: { names: Map<string, string> }) {
  const list = useLoad(
    () => get<{ items: Submission[] }>('/v1/submissions', { status: 'in_notice', limit: 100 }),
    [],
  );
  return (
    <Section title="正在公示" actions={<RefreshButton onClick={list.reload} />}>
      <p class="lead">公示期间，村民或村文书可以提出异议；有异议的事项退回重新评议。</p>
      <LoadStatus of={list} />
      {list.data && !list.data.items.length ? <Empty>现在没有公示中的事项。</Empty> : null}
      {list.data?.items.map((s) => (
        <SubmissionSummary key={s.id} s={s} names={names} />
      ))}
    </Section>
  );
}

/** The objections raised against a submission, with their reasons, read from its history. */
function Objections({ id, inReview }: { id: string; inReview: boolean }) {
  const detail = useLoad(() => get<Submission>(`/v1/submissions/${id}`), [id]);
  const objections = (detail.data?.history ?? []).filter((h) => h.type === 'objected');
  return (
    <>
      {objections.map((o, i) => (
        <p key={i} class="objection">
          {beijing(o.at)} 有人提出异议（第 {o.round} 轮公示）：{o.reason}
        </p>
      ))}
      {inReview ? <p class="meta">请到“待评议”中重新投票。</p> : null}
    </>
  );
}

function Objected({ names }: { names: Map<string, string> }) {
  const list = useLoad(
    async () =>
      (await get<{ items: Submission[] }>('/v1/submissions', { limit: 200 })).items.filter(
        (s) => s.round > 1,
      ),
    [],
  );
  return (
    <Section title="被提出异议的事项">
      <p class="lead">
        这些申报在公示时有人提出异议，已退回重新评议（第 2 轮起）。异议理由见“评议经过”。
      </p>
      <LoadStatus of={list} />
      {list.data && !list.data.length ? <Empty>最近没有被提出异议的事项。</Empty> : null}
      {list.data?.map((s) => (
        <SubmissionSummary key={s.id} s={s} names={names}>
          <Objections id={s.id} inReview={s.status === 'in_review'} />
        </SubmissionSummary>
      ))}
    </Section>
  );
}

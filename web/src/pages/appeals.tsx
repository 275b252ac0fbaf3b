/**
 * Deciding appeals of posted deductions: one list and one decision card for every page that
 * decides them (the township station's, and the county office's where it acts as the township).
 * They were two near-copies once, and a fix made in one (the 复核意见 sent as the `note` the
 * household reads, not as the file-only `comment`) was missing from the other.
 */
import { useState } from 'preact/hooks';
import { ApiError, get, post } from '../api';
import { useDraft } from '../drafts';
import { beijing } from '../format';
import { describeError } from '../messages';
import type { Household, Submission } from '../shapes';
import { Alert, Empty, LoadStatus, RefreshButton, Section, TextArea, useLoad } from '../ui';
import { householdLabel } from './common';

export type AppealCase = Submission & { name: string };

/** Pending appeals the signed-in station may decide, each read whole (reason, history) with the household's name. */
async function loadAppealCases(): Promise<AppealCase[]> {
  const ids = (await get<{ items: Submission[] }>('/v1/appeals')).items.map((a) => a.id);
  // The listing is the cached state; each case is read whole (its appeal reason and history).
  return Promise.all(
    ids.map(async (id) => {
      const a = await get<Submission>(`/v1/submissions/${id}`);
      const h = a.householdId
        ? await get<Household>(`/v1/households/${a.householdId}`).catch(() => undefined)
        : undefined;
      return { ...a, name: h ? householdLabel(h) : '农户' };
    }),
  );
}

/**
 * The pending appeals with a decision card each. A decided appeal leaves the list when it
 * reloads, and its card with it: what was decided is said above the list.
 */
export function AppealsSection({
  title,
  draftPrefix,
  villageName,
}: {
  title: string;
  /** Drafts of the 复核意见 are kept per page and case: `${draftPrefix}-${id}`. */
  draftPrefix: string;
  /** The village's name, where the page decides for several villages. */
  villageName?: (villageId: string) => string | undefined;
}) {
  const list = useLoad(loadAppealCases, []);
  const [done, setDone] = useState('');
  return (
    <Section title={title} actions={<RefreshButton onClick={list.reload} />}>
      <p class="lead">
        申诉成立会新记一笔，把扣掉的积分加回来（原记录不改动）；驳回则维持扣分。请写明复核意见，农户会看到，并收到通知。
      </p>
      <LoadStatus of={list} />
      {done ? <Alert kind="ok">{done}</Alert> : null}
      {list.data && !list.data.length ? <Empty>没有待复核的申诉。</Empty> : null}
      {list.data?.map((a) => (
        <AppealDecision
          key={a.id}
          a={a}
          draftKey={`${draftPrefix}-${a.id}`}
          village={villageName?.(a.villageId)}
          onDone={(message) => {
            setDone(message);
            list.reload();
          }}
        />
      ))}
    </Section>
  );
}

/** One appeal: the deduction, the household's reason, the 复核意见 and the two outcomes. */
export function AppealDecision({
  a,
  draftKey,
  village,
  onDone,
}: {
  a: AppealCase;
  draftKey: string;
  village?: string;
  onDone: (message: string) => void;
}) {
  const [d, , clear, bind] = useDraft(draftKey, { comment: '' });
  const [error, setError] = useState('');
  async function decide(outcome: 'upheld' | 'dismissed') {
    if (!d.comment.trim()) {
      setError('请在“复核意见”中写明理由，农户会看到。');
      return;
    }
    try {
      // The note is what the household reads (on its appeal and in its notification); the
      // API's `comment` is only a remark for the file.
      await post(`/v1/submissions/${a.id}/appeals/decision`, {
        outcome,
        note: d.comment.trim(),
      });
      clear();
      setError('');
      onDone(
        `${a.name}：${outcome === 'upheld' ? '已认定申诉成立，扣分已撤销。' : '已驳回申诉。'}`,
      );
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 409
          ? '这条申诉已经有人复核过了，请刷新。'
          : describeError(err, { comment: '复核意见', note: '复核意见' }),
      );
    }
  }
  return (
    <article class="item">
      <div class="item-head">
        <strong>
          {village ? `${village} · ` : ''}
          {a.name}
        </strong>
        <span class="minus">{a.points} 分</span>
      </div>
      <p>
        {a.ruleTitle} · 发生于 {a.occurredOn} · 入账于 {beijing(a.postedAt)}
      </p>
      <p class="evidence">扣分依据：{a.evidence.text}</p>
      {a.appeal ? (
        <p class="objection">
          {beijing(a.appeal.filedAt)} 申诉理由：{a.appeal.reason}
        </p>
      ) : null}
      <TextArea label="复核意见" name="comment" rows={2} {...bind('comment')} required />
      <div class="buttons">
        <button type="button" class="primary" onClick={() => decide('upheld')}>
          申诉成立，撤销扣分
        </button>
        <button type="button" class="danger" onClick={() => decide('dismissed')}>
          驳回申诉
        </button>
      </div>
      {error ? <Alert kind="error">{error}</Alert> : null}
    </article>
  );
}

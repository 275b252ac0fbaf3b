/**
 * 修改密码 for every person's account (PUT /v1/me/password): the current password, the new one
 * twice. On success every token of the account stops working, so the page signs out and the
 * sign-in page asks for the new password.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, api, signInNotice } from '../api';
import { clearDrafts } from '../drafts';
import { describeError } from '../messages';
import { navigate } from '../router';
import { setSession } from '../session';
import { Alert, Field, Section } from '../ui';

/** The API's rule for a new password: at least 10 characters (code points). */
const MIN_LENGTH = 10;

type Errors = Partial<Record<'currentPassword' | 'newPassword' | 'confirm', string>>;

export function PasswordPage() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [failure, setFailure] = useState('');
  const [busy, setBusy] = useState(false);
  const first = useRef<HTMLInputElement | null>(null);
  // The cursor starts in the first field (autofocus only works when a document loads).
  useEffect(() => first.current?.focus(), []);

  function check(): Errors {
    const e: Errors = {};
    if (!current) e.currentPassword = '请填写“当前密码”。';
    if (!next) e.newPassword = '请填写“新密码”。';
    else if ([...next].length < MIN_LENGTH)
      e.newPassword = `“新密码”至少 ${MIN_LENGTH} 个字符，现在只有 ${[...next].length} 个。请加长一些。`;
    else if (/[\r\n]/.test(next)) e.newPassword = '“新密码”不能换行。';
    else if (next === current) e.newPassword = '“新密码”不能与当前密码相同，请换一个。';
    if (!confirm) e.confirm = '请再输入一遍新密码。';
    else if (next && confirm !== next)
      e.confirm = '两次输入的新密码不一样，请重新输入“确认新密码”。';
    return e;
  }

  async function submit(e: Event) {
    e.preventDefault();
    setFailure('');
    const errs = check();
    setErrors(errs);
    if (Object.keys(errs).length) {
      document.querySelector<HTMLInputElement>('.password-form [aria-invalid=true]')?.focus();
      return;
    }
    setBusy(true);
    try {
      await api('/v1/me/password', {
        method: 'PUT',
        body: { currentPassword: current, newPassword: next },
      });
    } catch (err) {
      setBusy(false);
      if (err instanceof ApiError && err.code === 'validation_failed' && err.errors.length) {
        const byField: Errors = {};
        for (const f of err.errors) {
          const field = f.path.replace(/^body\./, '') as keyof Errors;
          // The API explains these two in Chinese itself (当前密码不正确, 新密码不能与当前密码相同).
          const zh = /[\u4e00-\u9fff]/.test(f.message) ? f.message : '';
          if (field === 'currentPassword')
            byField.currentPassword = `${zh || '“当前密码”不正确'}，请重新输入。`;
          else if (field === 'newPassword' && zh) byField.newPassword = `${zh}，请换一个。`;
          else if (field === 'newPassword')
            byField.newPassword = `“新密码”不符合要求：至少 ${MIN_LENGTH} 个字符，不能换行。`;
        }
        setErrors(byField);
        if (Object.keys(byField).length) return;
      }
      setFailure(describeError(err));
      return;
    }
    // Every token of this account stopped working: sign in again with the new password.
    clearDrafts();
    signInNotice.set('密码已修改。请用新密码重新登录。');
    setSession(null);
    navigate('/', true);
  }

  return (
    <>
      <h1>修改密码</h1>
      <Section title="修改我的登录密码">
        <p class="lead">
          新密码至少 {MIN_LENGTH}{' '}
          个字符。修改后，本账号在所有设备上的登录都会失效，需要用新密码重新登录。
        </p>
        <form class="password-form" onSubmit={submit} noValidate>
          <Field
            label="当前密码"
            name="currentPassword"
            type="password"
            value={current}
            onValue={setCurrent}
            error={errors.currentPassword}
            autoComplete="current-password"
            inputRef={first}
            required
          />
          <Field
            label="新密码"
            name="newPassword"
            type="password"
            value={next}
            onValue={setNext}
            error={errors.newPassword}
            hint={`至少 ${MIN_LENGTH} 个字符，可以是汉字、字母、数字或符号。`}
            autoComplete="new-password"
            required
          />
          <Field
            label="确认新密码"
            name="confirm"
            type="password"
            value={confirm}
            onValue={setConfirm}
            error={errors.confirm}
            autoComplete="new-password"
            required
          />
          {failure ? <Alert kind="error">{failure}</Alert> : null}
          <button type="submit" class="primary" disabled={busy}>
            {busy ? '正在修改…' : '确认修改'}
          </button>
        </form>
      </Section>
    </>
  );
}

/** Sign-in: a person by username and password; a counter by its terminal credentials, kept on the device. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { signInNotice, signInPerson, signInTerminal } from '../api';
import { describeError } from '../messages';
import { savedTerminal, saveTerminal, type Role } from '../session';
import { useSignal } from '../signal';
import { Alert, Field } from '../ui';

export function LoginPage({
  expired,
  onSignedIn,
}: {
  expired: boolean;
  onSignedIn: (role: Role) => void;
}) {
  const [mode, setMode] = useState<'person' | 'terminal'>(savedTerminal() ? 'terminal' : 'person');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [clientId, setClientId] = useState('');
  const [clientSecret, setClientSecret] = useState('');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [failure, setFailure] = useState('');
  const [busy, setBusy] = useState(false);
  const notice = useSignal(signInNotice);

  // Switching the way of signing in puts the cursor in its first field (keyboard-only use).
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.querySelector<HTMLInputElement>('.login form input')?.focus();
  }, [mode]);

  // A counter set up on this device signs itself in.
  useEffect(() => {
    const saved = savedTerminal();
    if (!saved || expired) return;
    setBusy(true);
    signInTerminal(saved.clientId, saved.clientSecret).then(
      () => onSignedIn('terminal'),
      (err: unknown) => {
        setBusy(false);
        setFailure(`本机保存的收银台凭据无法登录：${describeError(err)} 请重新输入。`);
      },
    );
  }, []);

  async function submit(e: Event) {
    e.preventDefault();
    const errs: Record<string, string> = {};
    if (mode === 'person') {
      if (!username.trim()) errs.username = '请填写用户名。';
      if (!password) errs.password = '请填写密码。';
    } else {
      if (!clientId.trim()) errs.clientId = '请填写终端编号（clientId）。';
      if (!clientSecret) errs.clientSecret = '请填写终端密钥（clientSecret）。';
    }
    setErrors(errs);
    setFailure('');
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      if (mode === 'person') {
        const s = await signInPerson(username.trim(), password);
        onSignedIn(s.me.role);
      } else {
        await signInTerminal(clientId.trim(), clientSecret);
        saveTerminal({ clientId: clientId.trim(), clientSecret });
        onSignedIn('terminal');
      }
    } catch (err) {
      const code = (err as { code?: string }).code;
      setFailure(
        code === 'unauthenticated'
          ? mode === 'person'
            ? '用户名或密码不对，请重新输入（账号被停用时也无法登录，请联系县中心）。连续输错 5 次需等 1 分钟。'
            : '终端编号或密钥不对，请向县中心核对。'
          : describeError(err),
      );
      setBusy(false);
    }
  }

  return (
    <main id="main" class="login">
      <h1>道德储蓄 · 登录</h1>
      <p class="lead">
        村文书、评议会成员、农户、信贷员和县中心用账号密码登录；公益超市收银台用终端凭据登录。
      </p>
      {expired ? (
        <Alert kind="warn">
          {notice ?? '登录已过期，请重新登录。'}您刚才填写的内容已保存，登录后会自动恢复。
        </Alert>
      ) : notice ? (
        <Alert kind="info">{notice}</Alert>
      ) : null}
      <div class="switch" role="group" aria-label="登录方式">
        <button type="button" aria-pressed={mode === 'person'} onClick={() => setMode('person')}>
          账号密码
        </button>
        <button
          type="button"
          aria-pressed={mode === 'terminal'}
          onClick={() => setMode('terminal')}
        >
          收银台终端
        </button>
      </div>
      <form onSubmit={submit} noValidate class="card">
        {mode === 'person' ? (
          <>
            <Field
              label="用户名"
              name="username"
              value={username}
              onValue={setUsername}
              error={errors.username}
              autoComplete="username"
              autoFocus
              required
            />
            <Field
              label="密码"
              name="password"
              type="password"
              value={password}
              onValue={setPassword}
              error={errors.password}
              autoComplete="current-password"
              required
            />
          </>
        ) : (
          <>
            <Field
              label="终端编号（clientId）"
              name="clientId"
              value={clientId}
              onValue={setClientId}
              error={errors.clientId}
              autoFocus
              required
            />
            <Field
              label="终端密钥（clientSecret）"
              name="clientSecret"
              type="password"
              value={clientSecret}
              onValue={setClientSecret}
              error={errors.clientSecret}
              required
              hint="登录后保存在本机，收银台以后会自动登录。"
            />
          </>
        )}
        {failure ? <Alert kind="error">{failure}</Alert> : null}
        <button type="submit" class="primary" disabled={busy}>
          {busy ? '正在登录…' : '登录'}
        </button>
      </form>
    </main>
  );
}

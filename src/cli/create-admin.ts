/**
 * Creates a county-office admin. The username is unique (index), so running the command twice
 * for one name creates one admin and reports the second as taken. The password obeys the same
 * rule as `POST /v1/users`; when none is given one is generated, printed once, and only its
 * scrypt hash is stored.
 */
import { randomBytes } from 'node:crypto';
import { DomainError } from '../platform/errors';
import { createUserBody } from '../modules/users/users.schemas';
import { createUser, type UserView } from '../modules/users/users.service';

export interface CreateAdminInput {
  username: string;
  /** Undefined: generate one. */
  password?: string;
  kdfLog2N: number;
}

export interface CreateAdminResult {
  user: UserView;
  /** Set only when the password was generated here (the caller prints it once). */
  generatedPassword?: string;
}

/** A random password of 24 URL-safe characters (144 bits). */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}

/** Throws `validation_failed` (with `errors`) or `conflict` (username taken). */
export async function createAdmin(input: CreateAdminInput): Promise<CreateAdminResult> {
  const generatedPassword = input.password === undefined ? generatePassword() : undefined;
  const password = input.password ?? generatedPassword!;
  const checked = createUserBody.safeParse({ username: input.username, password, role: 'admin' });
  if (!checked.success) {
    throw new DomainError('validation_failed', 'The admin is not valid.', {
      errors: checked.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    });
  }
  const user = await createUser(
    undefined,
    { username: input.username, password, role: 'admin' },
    input.kdfLog2N,
  );
  return { user, ...(generatedPassword ? { generatedPassword } : {}) };
}

import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { CryptoService } from '../../common/crypto/crypto.service';
import { Limit, LimitExceeded, RateLimitsService } from '../../common/rate-limit/rate-limits.service';
import { CookieChange, PageRequest, PageResult, readerOf, redirect, render } from '../../common/pages/page-result';
import { isolated } from '../../common/text/display-text';
import { AppConfig } from '../../config/app-config';
import { APP_CONFIG } from '../../config/config.module';
import { userActor } from '../audit/actors';
import { ANONYMOUS_ACTOR } from '../audit/audit-event-types';
import { AuditTrail } from '../audit/audit-trail.service';
import { BrowserSessionsService, SESSION_COOKIE } from '../sessions/browser-sessions.service';
import { UsersService } from '../users/users.service';
import { safeReturnTo } from './return-to';
import { SignInPurposes } from './sign-in-purposes';

export const LOGIN_CSRF_COOKIE = 'login_csrf';

/** Sign-in attempts allowed per IP and username, and per IP, in five minutes before 429 (OWASP ASVS 2.2.1). */
const FAILURES_PER_IP_AND_USER = 10;
const FAILURES_PER_IP = 100;
const WINDOW_SECONDS = 300;

export interface LoginForm {
  username?: unknown;
  password?: unknown;
  return_to?: unknown;
  csrf_token?: unknown;
}

/** How the form is shown again: with which error, which field to fix, and until when it is locked. */
interface FormState {
  readonly error?: string;
  readonly username?: string;
  /** The credentials were refused: both fields are marked invalid and the password gets the focus. */
  readonly invalid?: boolean;
  readonly lockedUntil?: Date;
}

const GENERIC_FAILURE = 'The username or password is incorrect.';

/**
 * The sign-in form (SPEC §2). Before a session exists, the form is protected by a double-submit token: a random
 * value in a SameSite=Strict cookie that must come back in the form.
 */
@Injectable()
export class LoginService {
  private readonly perIpAndUser: Limit;
  private readonly perIp: Limit;

  constructor(
    private readonly users: UsersService,
    private readonly sessions: BrowserSessionsService,
    private readonly crypto: CryptoService,
    private readonly purposes: SignInPurposes,
    private readonly audit: AuditTrail,
    private readonly dataSource: DataSource,
    limits: RateLimitsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.perIpAndUser = limits.limit({ name: 'login-ip-user', points: FAILURES_PER_IP_AND_USER, durationSeconds: WINDOW_SECONDS });
    this.perIp = limits.limit({ name: 'login-ip', points: FAILURES_PER_IP, durationSeconds: WINDOW_SECONDS });
  }

  showForm(returnTo: unknown, page: PageRequest): Promise<PageResult> {
    return this.form(safeReturnTo(returnTo), 200, page);
  }

  async submit(form: LoginForm, ctx: PageRequest): Promise<PageResult> {
    const returnTo = safeReturnTo(form.return_to);
    const username = typeof form.username === 'string' ? form.username.trim() : '';
    const password = typeof form.password === 'string' ? form.password : '';

    const cookieToken = ctx.cookies[LOGIN_CSRF_COOKIE];
    if (typeof cookieToken !== 'string' || typeof form.csrf_token !== 'string' || !this.crypto.safeEqual(cookieToken, form.csrf_token)) {
      return this.form(returnTo, 403, ctx, { error: 'Your sign-in form expired. Please try again.', username });
    }
    if (!username || !password) {
      return this.form(returnTo, 400, ctx, { error: 'Enter your username and password.', username, invalid: true });
    }

    // Charge first, refund on success: the attempt is counted before bcrypt runs, so N parallel guesses are N
    // charges against the limit — not N reads of a counter that is only written after each of them failed.
    const userKey = `${ctx.ip}|${username.toLowerCase()}`;
    try {
      await this.perIpAndUser.charge(userKey);
      await this.perIp.charge(ctx.ip);
    } catch (e) {
      if (!(e instanceof LimitExceeded)) throw e;
      if (e.first) await this.recordLockout(username, e);
      const minutes = Math.ceil(e.retryAfterSeconds / 60);
      const lockedUntil = new Date(Date.now() + e.retryAfterSeconds * 1000);
      return {
        ...(await this.form(returnTo, 429, ctx, { error: `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, username, lockedUntil })),
        headers: { 'Retry-After': String(e.retryAfterSeconds) },
      };
    }

    const checked = await this.users.checkCredentials(username, password);
    if (!checked.ok) {
      // The username is recorded only when it names a user: a string that names nobody may be a password typed
      // into the wrong field.
      const { claimed } = checked;
      await this.audit.recordAlone({
        type: 'sign_in.failed', actor: ANONYMOUS_ACTOR, subjectUserId: claimed?.id ?? null,
        details: claimed ? { username: claimed.username, reason: 'wrong_password' } : { reason: 'unknown_username' },
      });
      return this.form(returnTo, 401, ctx, { error: GENERIC_FAILURE, username, invalid: true });
    }
    const { user } = checked;
    await Promise.all([this.perIpAndUser.reset(userKey), this.perIp.refund(ctx.ip)]);

    const session = await this.dataSource.transaction(async (tx) => {
      const created = await this.sessions.create(user, tx);
      await this.audit.record(tx, { type: 'sign_in.succeeded', actor: userActor(user), subjectUserId: user.id });
      return created;
    });
    return redirect(returnTo, [
      { name: SESSION_COOKIE, value: session.rawId, options: { ...this.sessionCookieOptions(), maxAge: this.config.sessionTtl * 1000 } },
      { name: LOGIN_CSRF_COOKIE, options: this.csrfCookieOptions() },
    ]);
  }

  /** The attempt that used up a sign-in limit: once per lock, against the user the username names (if any). */
  private async recordLockout(username: string, e: LimitExceeded): Promise<void> {
    const claimed = await this.users.findByUsername(username);
    await this.audit.recordAlone({
      type: 'sign_in.locked_out', actor: ANONYMOUS_ACTOR, subjectUserId: claimed?.id ?? null,
      details: {
        limit: e.limit === this.perIp.name ? 'address' : 'address_and_username',
        retry_after_seconds: e.retryAfterSeconds,
        ...(claimed ? { username: claimed.username } : {}),
      },
    });
  }

  async logout(form: { csrf_token?: unknown }, cookies: Record<string, unknown>): Promise<PageResult> {
    const rawId = cookies[SESSION_COOKIE];
    if (typeof rawId === 'string' && rawId !== '') {
      // A forged cross-site logout is refused; the session stays.
      if (!this.sessions.verifyCsrf(rawId, form.csrf_token)) return redirect('/');
      await this.sessions.end(rawId);
    }
    return redirect('/login', [{ name: SESSION_COOKIE, options: this.sessionCookieOptions() }]);
  }

  /** `/`: who is signed in, and a way out. */
  async home(cookies: Record<string, unknown>): Promise<PageResult> {
    const signedIn = await this.sessions.fromCookies(cookies);
    if (!signedIn) return render('home', { title: 'Welcome', signedIn: false });
    const { user, rawId } = signedIn;
    const name = [user.givenName, user.familyName].filter(Boolean).join(' ');
    return render('home', {
      title: 'Your account',
      signedIn: true,
      user: { username: user.username, name: name || user.username, email: user.email, isAdmin: user.role === 'admin' },
      csrfToken: this.sessions.csrfTokenFor(rawId),
    });
  }

  /**
   * The form, said to be for the app whose authorization request it interrupts. After refused credentials the
   * password field has the focus and both fields point at the error; while locked the form is disabled, and
   * /assets/pages.js enables it again when the time has passed.
   */
  private async form(returnTo: string, status: number, page: PageRequest, state: FormState = {}): Promise<PageResult & { kind: 'render' }> {
    const csrfToken = this.crypto.randomToken(32);
    const cookies: CookieChange[] = [{ name: LOGIN_CSRF_COOKIE, value: csrfToken, options: this.csrfCookieOptions() }];
    const purpose = await this.purposes.of(returnTo);
    const locked = state.lockedUntil && { ...readerOf(page).time(state.lockedUntil), epochMs: state.lockedUntil.getTime() };
    // The field to fix next: the password once a username is there (or the credentials were refused).
    const passwordNext = state.invalid || (state.username ?? '') !== '';
    const model = {
      title: purpose ? `Sign in to continue to ${isolated(purpose.appName)}` : 'Sign in',
      purpose,
      returnTo,
      csrfToken,
      error: state.error,
      username: state.username,
      invalid: state.invalid,
      lockedUntil: locked,
      focusPassword: !locked && passwordNext,
      focusUsername: !locked && !passwordNext,
    };
    return { kind: 'render', view: 'login', model, status, cookies };
  }

  private get secureCookies(): boolean {
    return this.config.authorizationServer.issuerUrl.startsWith('https:');
  }

  /** SPEC §2: HttpOnly, SameSite=Lax (the OAuth redirect back must carry it), Path=/, Secure on https. */
  private sessionCookieOptions() {
    return { httpOnly: true, sameSite: 'lax' as const, path: '/', secure: this.secureCookies };
  }

  private csrfCookieOptions() {
    return { httpOnly: true, sameSite: 'strict' as const, path: '/login', secure: this.secureCookies };
  }
}

import { Injectable } from '@nestjs/common';
import { presentApp } from '../clients/app-presentation';
import { AppsService } from '../clients/apps.service';
import { ScopesService } from '../clients/scopes/scopes.service';
import { errorPage, expiredFormPage } from '../common/pages/error-page';
import { PageRequest, PageResult, readerOf, redirect, render } from '../common/pages/page-result';
import { BrowserSessionsService } from '../identity/sessions/browser-sessions.service';
import { UserGrantsService } from './user-grants.service';

const SIGN_IN = redirect(`/login?return_to=${encodeURIComponent('/account/apps')}`);
const BACK = { href: '/account/apps', label: 'Back to connected apps' };

/**
 * `/account/apps`: the browser twin of the authorizations API — see what you granted, and take it back. Revoking
 * asks first, on a page of its own that names the app (it works without JavaScript), and the list then says which
 * app was revoked.
 */
@Injectable()
export class AccountAppsService {
  constructor(
    private readonly grants: UserGrantsService,
    private readonly sessions: BrowserSessionsService,
    private readonly scopes: ScopesService,
    private readonly apps: AppsService,
  ) {}

  /** The list; `revokedClientId` (from the redirect after a revoke) names the app in a notice. */
  async page(page: PageRequest, revokedClientId?: unknown): Promise<PageResult> {
    const signedIn = await this.sessions.fromCookies(page.cookies);
    if (!signedIn) return SIGN_IN;
    const reader = readerOf(page);
    const grants = await this.grants.grantsWithApps(signedIn.user.id);
    return render('account-apps', {
      title: 'Connected apps',
      wide: true,
      user: { username: signedIn.user.username },
      notice: await this.revokedNotice(revokedClientId, grants.map((g) => g.app!.clientId)),
      apps: grants.map((g) => ({
        grantId: g.id,
        ...presentApp(g.app!),
        scopes: this.scopes.present(g.scopes),
        grantedAt: reader.dateTime(g.createdAt),
        lastUsed: g.lastUsedAt ? reader.dateTime(g.lastUsedAt) : undefined,
      })),
    });
  }

  /** The confirmation before a revoke: which app, and what it loses. */
  async confirm(grantId: string, page: PageRequest): Promise<PageResult> {
    const signedIn = await this.sessions.fromCookies(page.cookies);
    if (!signedIn) return SIGN_IN;
    const grant = (await this.grants.grantsWithApps(signedIn.user.id)).find((g) => g.id === grantId);
    if (!grant) {
      return errorPage(404, {
        title: 'App not connected',
        heading: 'This app is not connected',
        message: 'It may have been revoked already, from this page or another device.',
        next: 'Go back to your connected apps to see what is connected now.',
        link: BACK,
      });
    }
    const app = presentApp(grant.app!);
    return render('revoke-app', {
      title: `Revoke ${app.isolatedName}?`,
      app,
      grantId: grant.id,
      scopes: this.scopes.present(grant.scopes),
      csrfToken: this.sessions.csrfTokenFor(signedIn.rawId),
    });
  }

  async revoke(grantId: string, form: { csrf_token?: unknown }, page: PageRequest): Promise<PageResult> {
    const signedIn = await this.sessions.fromCookies(page.cookies);
    if (!signedIn) return SIGN_IN;
    if (!this.sessions.verifyCsrf(signedIn.rawId, form.csrf_token)) return expiredFormPage(BACK);
    const grant = (await this.grants.grantsWithApps(signedIn.user.id)).find((g) => g.id === grantId);
    await this.grants.revokeAuthorization(signedIn.user.id, grantId);
    return redirect(grant ? `/account/apps?revoked=${encodeURIComponent(grant.app!.clientId)}` : '/account/apps');
  }

  /** "Access for X was revoked": only for an app that exists and that this user no longer has connected. */
  private async revokedNotice(clientId: unknown, connected: string[]): Promise<{ app: string } | undefined> {
    if (typeof clientId !== 'string' || connected.includes(clientId)) return undefined;
    const app = await this.apps.findByClientId(clientId);
    return app ? { app: presentApp(app).name } : undefined;
  }
}

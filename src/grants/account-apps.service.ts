import { Injectable } from '@nestjs/common';
import { PageResult, redirect, render } from '../common/pages/page-result';
import { ScopesService } from '../clients/scopes/scopes.service';
import { BrowserSessionsService } from '../identity/sessions/browser-sessions.service';
import { UserGrantsService } from './user-grants.service';

const SIGN_IN = redirect(`/login?return_to=${encodeURIComponent('/account/apps')}`);
const DATE = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' });

/** `/account/apps`: the browser twin of the authorizations API — see what you granted, and take it back. */
@Injectable()
export class AccountAppsService {
  constructor(
    private readonly grants: UserGrantsService,
    private readonly sessions: BrowserSessionsService,
    private readonly scopes: ScopesService,
  ) {}

  async page(cookies: Record<string, unknown>, notice?: string): Promise<PageResult> {
    const signedIn = await this.sessions.fromCookies(cookies);
    if (!signedIn) return SIGN_IN;
    const grants = await this.grants.grantsWithApps(signedIn.user.id);
    return render('account-apps', {
      title: 'Connected apps',
      wide: true,
      user: { username: signedIn.user.username },
      notice,
      csrfToken: this.sessions.csrfTokenFor(signedIn.rawId),
      apps: grants.map((g) => ({
        grantId: g.id,
        name: g.app!.displayName,
        selfRegistered: g.app!.provenance === 'dcr',
        scopes: g.scopes.map((s) => this.scopes.describe(s) ?? { name: s, description: s }),
        grantedAt: `${DATE.format(g.createdAt)} UTC`,
        lastUsed: g.lastUsedAt ? `${DATE.format(g.lastUsedAt)} UTC` : 'Never',
      })),
    });
  }

  async revoke(grantId: string, form: { csrf_token?: unknown }, cookies: Record<string, unknown>): Promise<PageResult> {
    const signedIn = await this.sessions.fromCookies(cookies);
    if (!signedIn) return SIGN_IN;
    if (!this.sessions.verifyCsrf(signedIn.rawId, form.csrf_token)) {
      return render('error', { title: 'Request expired', heading: 'This form has expired', message: 'Reload the page and try again.', code: 'invalid_csrf_token' }, 403);
    }
    await this.grants.revokeAuthorization(signedIn.user.id, grantId);
    return redirect('/account/apps?revoked=1');
  }
}

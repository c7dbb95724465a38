import { Injectable } from '@nestjs/common';
import { PageResult, redirect, render } from '../common/pages/page-result';
import { ScopesService } from '../clients/scopes/scopes.service';
import { BrowserSessionsService, SESSION_COOKIE } from '../identity/sessions/browser-sessions.service';
import { UserGrantsService } from './user-grants.service';

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
    const raw = cookies[SESSION_COOKIE];
    const session = typeof raw === 'string' && raw !== '' ? await this.sessions.find(raw) : null;
    if (!session?.user) return redirect(`/login?return_to=${encodeURIComponent('/account/apps')}`);
    const grants = await this.grants.grantsWithApps(session.user.id);
    return render('account-apps', {
      title: 'Connected apps',
      wide: true,
      user: { username: session.user.username },
      notice,
      csrfToken: this.sessions.csrfTokenFor(raw as string),
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
    const raw = cookies[SESSION_COOKIE];
    const session = typeof raw === 'string' && raw !== '' ? await this.sessions.find(raw) : null;
    if (!session?.user) return redirect(`/login?return_to=${encodeURIComponent('/account/apps')}`);
    if (!this.sessions.verifyCsrf(raw as string, form.csrf_token)) {
      return render('error', { title: 'Request expired', heading: 'This form has expired', message: 'Reload the page and try again.', code: 'invalid_csrf_token' }, 403);
    }
    await this.grants.revokeAuthorization(session.user.id, grantId);
    return redirect('/account/apps?revoked=1');
  }
}

import { Inject, Injectable, OnModuleInit } from '@nestjs/common';
import { allowsResource } from '../clients/allowed-resources';
import { presentApp } from '../clients/app-presentation';
import { AppsService } from '../clients/apps.service';
import { AppEntity, isSelfRegistered } from '../clients/entities/app.entity';
import { ScopesService } from '../clients/scopes/scopes.service';
import { accessDenied, asErrorDescription, consentRequired, invalidRequest, loginRequired, OAuthError, RedirectableOAuthError } from '../common/oauth/oauth-error';
import { Metrics } from '../common/metrics/metrics';
import { errorPage, HOME_LINK } from '../common/pages/error-page';
import { PageRequest, PageResult, readerOf, redirect } from '../common/pages/page-result';
import { isolated } from '../common/text/display-text';
import { ApiProblem, forbidden, problemTypeForStatus } from '../common/problem/problem';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { Consent, GrantsService } from '../grants/grants.service';
import type { Principal } from '../identity/auth/principal';
import type { UserEntity } from '../identity/entities/user.entity';
import { SignInPurpose, SignInPurposes } from '../identity/login/sign-in-purposes';
import { BrowserSessionsService } from '../identity/sessions/browser-sessions.service';
import { UsersService } from '../identity/users/users.service';
import { userActor } from '../identity/audit/actors';
import { AuditTrail } from '../identity/audit/audit-trail.service';
import { checkClient, checkClientId } from './checks/check-client';
import { checkPkce } from './checks/check-pkce';
import { checkPrompt, Prompt } from './checks/check-prompt';
import { checkRedirectUri } from './checks/check-redirect-uri';
import { checkAllowedResource, checkResource } from './checks/check-resource';
import { checkResponseType } from './checks/check-response-type';
import { checkScope } from './checks/check-scope';
import { checkOptionalText } from './checks/check-text';
import { consentModel } from './consent-page';
import { UnusableMetadataDocument } from '../clients/metadata-documents/client-id-metadata-documents.service';
import type { JsonAuthorizeDto } from './dto/json-authorize.dto';

/** The parameters of an authorization request, as sent (query string or consent form); nothing is trusted. */
export type AuthorizeParams = Record<string, unknown>;

/** A request that passed every check of SPEC §3 steps 1–2. */
export interface AuthorizationRequest {
  readonly app: AppEntity;
  readonly redirectUri: string;
  readonly redirectUriExplicit: boolean;
  readonly state?: string;
  readonly scopes: string[];
  readonly codeChallenge: string | null;
  readonly codeChallengeMethod: 'S256' | null;
  readonly nonce: string | null;
  readonly resources: string[];
  readonly prompt: ReadonlySet<Prompt>;
}

/**
 * The authorization endpoint (RFC 6749 §4.1.1, OAuth 2.1 §4.1, SPEC §3), in the spec's order: verify the client
 * and its redirect URI (errors shown to the user), then everything else (errors redirected to the client with
 * `state` and `iss`), then the session, the consent memory, and the consent page.
 */
@Injectable()
export class AuthorizeService implements OnModuleInit {
  private readonly issuer: string;

  constructor(
    private readonly apps: AppsService,
    private readonly scopes: ScopesService,
    private readonly grants: GrantsService,
    private readonly sessions: BrowserSessionsService,
    private readonly users: UsersService,
    private readonly signInPurposes: SignInPurposes,
    private readonly audit: AuditTrail,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly metrics: Metrics,
  ) {
    this.issuer = config.authorizationServer.issuerUrl;
  }

  /** The sign-in page names the app of the authorization request it interrupts ("to continue to Acme Notes"). */
  onModuleInit(): void {
    this.signInPurposes.register((returnTo) => this.purposeOf(returnTo));
  }

  /** GET /oauth2/authorize */
  async start(params: AuthorizeParams, page: PageRequest): Promise<PageResult> {
    return this.answer(async () => {
      const { request, signedIn, grant, vouched } = await this.read(params, page.cookies);
      // prompt=none answers at once, without the user: for a redirect URI nobody vouched for, that would be an
      // open redirect too (RFC 9700 §4.11.2), so those errors are shown like the step-2 ones.
      const fail = (e: OAuthError) => toClient(e, request.redirectUri, request.state, vouched);

      // Step 3: no session (or the client asks to sign in again): sign in first, then come back here.
      if (!signedIn || request.prompt.has('login')) {
        if (request.prompt.has('none')) throw fail(loginRequired('the user is not signed in'));
        return redirect(this.signInUrl(params));
      }
      const { user, session } = signedIn;
      const scopes = this.grantableScopes(request.scopes, user, request.app);

      // Step 4: consent remembered for every requested scope and every requested resource.
      if (grant && !request.prompt.has('consent') && covers(grant, scopes, this.audiences(request))) {
        this.grants.markUsed(grant.id);
        return redirect(await this.issueCode(request, user.id, grant.id, scopes, session.authenticatedAt));
      }
      // Step 5: ask.
      if (request.prompt.has('none')) throw fail(consentRequired('the user has not consented to these scopes and resources'));
      return this.consentPage(request, params, user, scopes, signedIn.rawId, page);
    });
  }

  /** POST /oauth2/authorize: the consent decision. Everything is validated again; hidden fields prove nothing. */
  async decide(body: AuthorizeParams, page: PageRequest): Promise<PageResult> {
    return this.answer(async () => {
      const { request, signedIn } = await this.read({ ...body, prompt: undefined }, page.cookies);
      if (!signedIn) return redirect(this.signInUrl(body));
      const { user, session } = signedIn;
      const scopes = this.grantableScopes(request.scopes, user, request.app);
      // A decision without this session's CSRF token gets no code and no redirect: a forged cross-site POST, or a
      // consent page left open while the user signed in again. The page is shown again, fresh, to decide anew.
      if (!this.sessions.verifyCsrf(signedIn.rawId, body.csrf_token)) {
        const notice = 'This page had expired, so your choice was not sent. Check the request below and choose again.';
        return { ...(await this.consentPage(request, body, user, scopes, signedIn.rawId, page, notice)), status: 403 };
      }
      const decision = readDecision(body);
      // The user saw the consent page, which names the redirect host: sending the answer there is what they chose.
      if (decision === 'deny') {
        await this.audit.recordAlone({
          type: 'consent.denied', actor: userActor(user), subjectUserId: user.id, clientId: request.app.clientId,
          details: { scopes, resources: this.audiences(request) },
        });
        throw accessDenied('the user denied the request').redirectTo(request.redirectUri, request.state);
      }
      const recorded = await this.grants.record(user, request.app, scopes, this.audiences(request));
      return redirect(await this.issueCode(request, user.id, recorded.id, scopes, session.authenticatedAt));
    });
  }

  /**
   * POST /api/v1/oauth2/authorize: the same request as JSON from the server's own single-page consent UI, which is
   * the consent itself. Only a browser session reaches here as a user (the route refuses apps' access tokens), so
   * `auth_time` is when that session signed in. Answers the redirect URI holding the code; errors are problem+json.
   */
  async authorizeJson(body: JsonAuthorizeDto, principal: Principal): Promise<{ redirect_uri: string }> {
    if (principal.kind !== 'user' || !principal.session) {
      throw forbidden('Only a signed-in user can approve an application; a service account has no user to approve for');
    }
    const user = await this.users.findById(principal.userId);
    if (!user) throw forbidden('The user no longer exists');
    try {
      const client = await this.verifyClient(body as unknown as AuthorizeParams);
      const params = { ...body, scope: Array.isArray(body.scope) ? body.scope.join(' ') : body.scope, prompt: undefined };
      const request = this.validate(client, params, { vouched: true });
      const scopes = this.grantableScopes(request.scopes, user, request.app);
      const grant = await this.grants.record(user, request.app, scopes, this.audiences(request));
      return { redirect_uri: await this.issueCode(request, user.id, grant.id, scopes, principal.session.authenticatedAt) };
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      throw new ApiProblem(problemTypeForStatus(e.status), `${e.code}: ${e.description}`, e.status < 500 ? 400 : e.status);
    }
  }

  /** SPEC §3 steps 1–2, with the session and the consent memory that decide where step-2 errors go. */
  private async read(params: AuthorizeParams, cookies: Record<string, unknown>) {
    const client = await this.verifyClient(params);
    const signedIn = await this.sessions.fromCookies(cookies);
    const grant = signedIn ? await this.grants.find(signedIn.user.id, client.app.id) : null;
    const vouched = isVouched(client.app, grant);
    return { request: this.validate(client, params, { vouched }), signedIn, grant, vouched };
  }

  /** SPEC §3 step 1: the client and its redirect URI; any failure is shown to the user, never redirected. */
  private async verifyClient(params: AuthorizeParams): Promise<VerifiedClient> {
    const app = checkClient(await this.apps.findByClientId(checkClientId(params.client_id)));
    try {
      return { app, ...checkRedirectUri(app, params.redirect_uri) };
    } catch (e) {
      throw e instanceof OAuthError ? new UnregisteredRedirectError(e, app) : e;
    }
  }

  /**
   * SPEC §3 step 2. Errors go back to the client's redirect URI — unless nobody vouched for it (a self-registered
   * app this user has not approved, RFC 9700 §4.11.2): then the error page names the host instead of sending the
   * browser there.
   */
  private validate({ app, redirectUri, explicit }: VerifiedClient, params: AuthorizeParams, options: { vouched: boolean }): AuthorizationRequest {
    const state = typeof params.state === 'string' ? params.state : undefined;
    try {
      checkResponseType(params.response_type);
      checkOptionalText(params.state, 'state', 2048);
      const pkce = checkPkce(app, params.code_challenge, params.code_challenge_method, this.config.authorizationServer.requirePkce);
      const scopes = checkScope(app, params.scope, this.scopes);
      const resources = checkResource(params.resource);
      checkAllowedResource(resources, allowsResource(app, this.issuer));
      const nonce = checkOptionalText(params.nonce, 'nonce', 512) ?? null;
      const prompt = checkPrompt(params.prompt);
      return { app, redirectUri, redirectUriExplicit: explicit, state, scopes, ...pkce, resources, nonce, prompt };
    } catch (e) {
      throw e instanceof OAuthError ? toClient(e, redirectUri, state, options.vouched) : e;
    }
  }

  private async issueCode(request: AuthorizationRequest, userId: string, grantId: string, scopes: string[], authTime: Date): Promise<string> {
    const code = await this.grants.issueCode({
      appId: request.app.id,
      userId,
      grantId,
      redirectUri: request.redirectUri,
      redirectUriExplicit: request.redirectUriExplicit,
      codeChallenge: request.codeChallenge,
      codeChallengeMethod: request.codeChallengeMethod,
      scopes,
      nonce: request.nonce,
      resources: request.resources,
      authTime,
    });
    this.apps.markUsed(request.app);
    return this.redirectUri(request.redirectUri, { code, state: request.state });
  }

  /**
   * Only users with the admin role may be granted `admin`, and a self-registered app is never granted `account` or
   * `admin` (SPEC §2): the request is narrowed to what may be granted.
   */
  private grantableScopes(requested: readonly string[], user: Pick<UserEntity, 'role'>, app: AppEntity): string[] {
    return this.scopes.grantable(requested, user.role, app);
  }

  private async consentPage(
    request: AuthorizationRequest, params: AuthorizeParams, user: UserEntity, scopes: string[], rawSession: string, page: PageRequest, notice?: string,
  ): Promise<PageResult & { kind: 'render' }> {
    const name = [user.givenName, user.familyName].filter(Boolean).join(' ');
    const hidden = Object.entries({
      client_id: request.app.clientId,
      redirect_uri: request.redirectUriExplicit ? request.redirectUri : undefined,
      response_type: 'code',
      scope: params.scope === undefined || params.scope === '' ? undefined : request.scopes.join(' '),
      state: request.state,
      code_challenge: request.codeChallenge ?? undefined,
      code_challenge_method: request.codeChallengeMethod ?? undefined,
      nonce: request.nonce ?? undefined,
    }).filter(([, value]) => value !== undefined).map(([name, value]) => ({ name, value: value as string }));
    for (const resource of request.resources) hidden.push({ name: 'resource', value: resource });

    const model = consentModel({
      app: request.app,
      redirectUri: request.redirectUri,
      scopes: this.scopes.present(scopes),
      resources: request.resources,
      // For an app nobody vouched for, how many colleagues already trust it is worth knowing.
      userCount: isSelfRegistered(request.app) ? await this.grants.countUsers(request.app.id) : undefined,
      user: { username: user.username, name: name || user.username },
      hidden,
      csrfToken: this.sessions.csrfTokenFor(rawSession),
      switchAccountUrl: this.signInUrl(params),
      notice,
    }, readerOf(page));
    return { kind: 'render', view: 'consent', model, status: 200 };
  }

  /** What the sign-in page says it is for, when `return_to` is an authorization request of a known app. */
  private async purposeOf(returnTo: string): Promise<SignInPurpose | undefined> {
    if (!returnTo.startsWith('/oauth2/authorize?')) return undefined;
    const clientId = new URLSearchParams(returnTo.slice(returnTo.indexOf('?') + 1)).get('client_id');
    // The sign-in page only names the app; one whose document cannot be used is refused after sign-in.
    const app = clientId ? await this.apps.findByClientId(clientId).catch((e: unknown) => {
      if (e instanceof UnusableMetadataDocument) return null;
      throw e;
    }) : null;
    if (!app) return undefined;
    const shown = presentApp(app);
    return { appName: shown.name, selfRegistered: shown.selfRegistered };
  }

  /** Turns a thrown error into the page or the redirect SPEC §3 asks for. */
  private async answer(run: () => Promise<PageResult>): Promise<PageResult> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof OAuthError) this.metrics.oauthError('authorize', e.code);
      if (e instanceof RedirectableOAuthError) {
        return redirect(this.redirectUri(e.redirectUri, { error: e.code, error_description: asErrorDescription(e.description), state: e.state }));
      }
      if (e instanceof OAuthError) return authorizeErrorPage(e);
      throw e;
    }
  }

  /** The client's redirect URI, exactly as registered, plus the response parameters and `iss` (RFC 9207). */
  private redirectUri(base: string, params: Record<string, string | undefined>): string {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== undefined) query.append(name, value);
    query.append('iss', this.issuer);
    return `${base}${base.includes('?') ? '&' : '?'}${query.toString()}`;
  }

  /**
   * Who the tokens will be for (RFC 8707): the requested resources, or — when none is named — this server itself,
   * whose API the token then reaches. Consent covers audiences, so approving one resource is not approving this
   * server's API too.
   */
  private audiences(request: AuthorizationRequest): string[] {
    return request.resources.length > 0 ? request.resources : [this.issuer];
  }

  /** Sign in first, then come back to this request (without `prompt=login`, or it would ask forever). */
  private signInUrl(params: AuthorizeParams): string {
    return `/login?return_to=${encodeURIComponent(authorizeUrl(params))}`;
  }
}

/** The authorization request parameters SPEC §3 understands: the only ones carried through sign-in. */
const AUTHORIZE_PARAMETERS = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'nonce', 'resource', 'prompt'];

/**
 * This request as a GET of the authorization endpoint: the known parameters only, so nothing else a caller put in
 * the request (a password, a secret) ends up in a URL, a page or a log line.
 */
function authorizeUrl(params: AuthorizeParams): string {
  const query = new URLSearchParams();
  for (const name of AUTHORIZE_PARAMETERS) {
    for (const v of ([] as unknown[]).concat(params[name] ?? [])) if (typeof v === 'string') query.append(name, v);
  }
  const prompt = query.get('prompt');
  if (prompt !== null) {
    const rest = prompt.split(' ').filter((p) => p !== 'login' && p !== 'select_account' && p !== '');
    if (rest.length) query.set('prompt', rest.join(' '));
    else query.delete('prompt');
  }
  return `/oauth2/authorize?${query.toString()}`;
}

/** RFC 9700 §4.11.2: a redirect URI is vouched for when an admin registered the app or this user approved it. */
function isVouched(app: Pick<AppEntity, 'provenance'>, grant: Consent | null): boolean {
  return !isSelfRegistered(app) || grant !== null;
}

/** SPEC §3 step 4: the grant already covers every requested scope and every audience the tokens will have. */
function covers(grant: Consent, scopes: readonly string[], audiences: readonly string[]): boolean {
  return scopes.every((s) => grant.scopes.includes(s)) && audiences.every((a) => grant.resources.includes(a));
}

/** An error after the client is verified: back to its redirect URI when vouched for, else to the error page. */
function toClient(e: OAuthError, redirectUri: string, state: string | undefined, vouched: boolean): OAuthError {
  return vouched ? e.redirectTo(redirectUri, state) : new UnvouchedRedirectError(e, new URL(redirectUri).host);
}

/** A step-2 error for a redirect URI nobody vouched for: shown on the error page, naming where it would have gone. */
class UnvouchedRedirectError extends OAuthError {
  constructor(error: OAuthError, readonly redirectHost: string) {
    super(error.code, error.description, 400, error.detail);
    this.name = 'UnvouchedRedirectError';
  }
}

/** A step-1 redirect URI failure of a known app: shown, never redirected; the page may link to an app we vouch for. */
class UnregisteredRedirectError extends OAuthError {
  constructor(error: OAuthError, readonly app: AppEntity) {
    super(error.code, error.description, 400, error.detail);
    this.name = 'UnregisteredRedirectError';
  }
}

/**
 * The error pages of the authorization endpoint, in plain words. The way onward goes back to the app only where
 * the organisation vouches for the app's website (an app an admin added); otherwise home.
 */
function authorizeErrorPage(e: OAuthError): PageResult {
  const technical = { code: e.code, description: e.description };
  const next = 'Go back to the app and try again. If it keeps happening, tell the app’s developer; the details below help them.';
  if (e instanceof UnvouchedRedirectError) {
    return errorPage(400, {
      title: 'Sign-in request not valid',
      heading: 'This sign-in request is not valid',
      message: `The app asked for something this server does not allow, and it registered itself, so you are not being sent on to ${isolated(e.redirectHost)}.`,
      next,
      technical,
    });
  }
  if (e instanceof UnregisteredRedirectError) {
    const app = presentApp(e.app);
    const link = e.app.provenance === 'api' && e.app.clientUri ? { href: e.app.clientUri, label: `Back to ${app.isolatedName}` } : HOME_LINK;
    return errorPage(400, {
      title: 'Return address not registered',
      heading: 'This app’s return address is not registered',
      message: `${app.isolatedName} did not say where to send you back to, or named an address it did not register — so, for your safety, you were not sent there.`,
      next,
      link,
      technical,
    });
  }
  if (e instanceof UnusableMetadataDocument) {
    return errorPage(400, {
      title: 'App could not be identified',
      heading: 'This app could not be identified',
      message: `The app names itself by a web address, ${isolated(displayableHost(e.clientId))}, but what that address serves could not be used, so there is nothing to sign in to.`,
      next,
      technical,
    });
  }
  if (e.code === 'invalid_client') {
    return errorPage(400, {
      title: 'App not registered',
      heading: 'This app is not registered here',
      message: 'The link you followed names an app this server does not know: it may have been removed, or the link is wrong.',
      next,
      technical,
    });
  }
  if (e.code === 'unauthorized_client') {
    return errorPage(400, {
      title: 'App cannot sign you in',
      heading: 'This app cannot sign you in here',
      message: 'The app is registered, but not for signing people in.',
      next,
      technical,
    });
  }
  return errorPage(400, {
    title: 'Sign-in request not valid',
    heading: 'This sign-in request is not valid',
    message: 'The link that brought you here is incomplete or malformed, so there is nothing to sign in to.',
    next,
    technical,
  });
}

function displayableHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'an address that is not valid';
  }
}

interface VerifiedClient {
  readonly app: AppEntity;
  readonly redirectUri: string;
  readonly explicit: boolean;
}

/** `decision=allow|deny`, or `confirm=yes|no` (SPEC §3). */
function readDecision(body: AuthorizeParams): 'allow' | 'deny' {
  const decision = body.decision ?? (body.confirm === 'yes' ? 'allow' : body.confirm === 'no' ? 'deny' : undefined);
  if (decision === 'allow' || decision === 'deny') return decision;
  throw invalidRequest('decision must be allow or deny');
}

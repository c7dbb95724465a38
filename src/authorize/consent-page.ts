import { isLoopback } from '../clients/registration/client-metadata';
import type { AppEntity } from '../clients/entities/app.entity';
import type { ScopePresentation } from '../clients/scopes/scopes.service';
import { presentApp } from '../clients/app-presentation';
import { Reader } from '../common/pages/reader';
import { displayable } from '../common/text/display-text';

/** Where the browser goes after the decision, as the consent page says it. */
export interface Destination {
  readonly host: string;
  /** A loopback redirect: an app on this computer (RFC 8252 §7.3), whatever it calls itself. */
  readonly thisComputer: boolean;
}

export function destinationOf(redirectUri: string): Destination {
  const url = new URL(redirectUri);
  return { host: displayable(url.host), thisComputer: url.protocol === 'http:' && isLoopback(url.hostname) };
}

export interface ConsentFacts {
  readonly app: AppEntity;
  readonly redirectUri: string;
  readonly scopes: ScopePresentation[];
  readonly resources: readonly string[];
  /** How many people of the organisation have connected this app (asked for self-registered apps only). */
  readonly userCount?: number;
  readonly user: { readonly name: string; readonly username: string };
  readonly hidden: ReadonlyArray<{ name: string; value: string }>;
  readonly csrfToken: string;
  readonly switchAccountUrl: string;
  /** Shown above the form, e.g. when an expired form was refused and this one replaces it. */
  readonly notice?: string;
}

/** The consent page's view-model (views/consent.hbs). */
export function consentModel(facts: ConsentFacts, reader: Reader) {
  const { app } = facts;
  const shown = presentApp(app);
  const destination = destinationOf(facts.redirectUri);
  return {
    title: `Allow ${shown.isolatedName} to access your account?`,
    app: {
      ...shown,
      registered: reader.day(app.createdAt),
      reviewed: app.reviewedAt ? reader.day(app.reviewedAt) : undefined,
      users: facts.userCount === undefined ? undefined : peopleUsing(facts.userCount),
      website: website(app, destination),
    },
    destination,
    // MCP (Client ID Metadata Documents, security considerations): a document anyone can publish may name a
    // loopback redirect, so who receives the code on this computer is not the document's host — say so.
    localhostOnly: app.provenance === 'cimd' && app.redirectUris.every((uri) => destinationOf(uri).thisComputer),
    scopes: facts.scopes,
    resources: facts.resources.map(displayable),
    technical: { clientId: app.clientId, redirectUri: displayable(facts.redirectUri) },
    user: { name: displayable(facts.user.name), username: displayable(facts.user.username) },
    hidden: facts.hidden,
    csrfToken: facts.csrfToken,
    switchAccountUrl: facts.switchAccountUrl,
    notice: facts.notice,
    // The safe choice is the default one where nobody vouched for the app.
    denyIsPrimary: shown.selfRegistered,
  };
}

function peopleUsing(count: number): string {
  if (count === 0) return 'Nobody in your organisation has connected it yet';
  return `${count} ${count === 1 ? 'person' : 'people'} in your organisation connected it`;
}

/**
 * `client_uri`: an app the organisation added links to its site. A self-registered app only claims one — shown as
 * its claim, as text, unless the site is on the very host the browser will be sent to.
 */
function website(app: Pick<AppEntity, 'clientUri' | 'provenance'>, destination: Destination) {
  if (!app.clientUri) return undefined;
  const url = new URL(app.clientUri);
  const host = displayable(url.host);
  if (app.provenance === 'api') return { href: app.clientUri, host, link: true };
  const sameHost = !destination.thisComputer && host === destination.host;
  return { href: sameHost ? app.clientUri : undefined, host, link: sameHost };
}

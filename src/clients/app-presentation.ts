import { AppEntity, isSelfRegistered } from './entities/app.entity';
import { capped, displayable, isolated, mixedScripts } from '../common/text/display-text';

/** Longer names are cut on the pages, with the whole name on a line of its own. */
export const SHOWN_NAME_LENGTH = 48;

/** What the pages say about an app: the facts this server knows, never the app's word presented as fact. */
export interface AppPresentation {
  readonly name: string;
  /** The whole name, when `name` had to be cut. */
  readonly fullName?: string;
  /** For `<title>` and `aria-label`: plain text, isolated from the text around it. */
  readonly isolatedName: string;
  readonly initial: string;
  /** Loaded only for an app the organisation added; a self-registered app's remote logo is never fetched. */
  readonly logoUri: string | null;
  readonly organisation: boolean;
  /** Registered by itself (RFC 7591) or identified by its own metadata document: nobody vouched for it. */
  readonly selfRegistered: boolean;
  /** A `cimd` app: the host that serves the document its client_id names — the one fact that identifies it. */
  readonly documentHost?: string;
  readonly lookalikeWarning?: string;
}

export function presentApp(app: Pick<AppEntity, 'displayName' | 'provenance' | 'logoUri' | 'clientId'>): AppPresentation {
  const shown = capped(app.displayName, SHOWN_NAME_LENGTH);
  const name = shown.text || 'Unnamed app';
  const full = displayable(app.displayName) || name;
  const scripts = mixedScripts(full);
  return {
    name,
    fullName: shown.cut ? full : undefined,
    isolatedName: isolated(name),
    initial: Array.from(full)[0]?.toLocaleUpperCase() ?? '?',
    logoUri: app.provenance === 'api' ? app.logoUri : null,
    organisation: app.provenance === 'api',
    selfRegistered: isSelfRegistered(app),
    documentHost: app.provenance === 'cimd' ? displayable(new URL(app.clientId).host) : undefined,
    lookalikeWarning: scripts.length
      ? `Its name mixes ${scripts.join(' and ')} letters, which can make it look like another app.`
      : undefined,
  };
}


/**
 * The self-registered apps nobody uses (SPEC §5), as an SQL condition on the `apps` row named `app`: never used
 * within `unusedTtl` seconds of registering, or idle for `idleTtl` seconds with no live refresh token. The sweep
 * removes them, and a repeated registration is never answered one of them. `unusedTtl` and `idleTtl` are the
 * placeholders of the two parameters; all three arguments are our own SQL, never input.
 */
export function unusedSelfRegisteredApp(app: string, unusedTtl: string, idleTtl: string): string {
  return `${app}.provenance IN ('dcr', 'cimd')
    AND ((${app}.last_used_at IS NULL AND ${app}.created_at < now() - make_interval(secs => ${unusedTtl}))
      OR (${app}.last_used_at < now() - make_interval(secs => ${idleTtl})
          AND NOT EXISTS (SELECT 1 FROM refresh_tokens t
                           WHERE t.app_id = ${app}.id AND t.revoked_at IS NULL AND t.rotated_at IS NULL AND t.expires_at > now())))`;
}

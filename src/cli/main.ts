#!/usr/bin/env node
import 'reflect-metadata';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../config/app-config';
import { loadConfig } from '../config/load-config';
import { ApiProblem } from '../common/problem/problem';
import { isDatabaseUnavailable } from '../database/database-unavailable';
import { EmbeddedPostgresError } from '../database/embedded-postgres';
import { CliDatabase } from './cli-database';
import { CliError, CliIo, processIo } from './cli-io';
import { Answer, Commands, describeProblem } from './commands';
import { tailAudit } from './audit-tail';
import { runAsCli } from '../identity/audit/audit-context';

/**
 * `npx portcullis <command>` (or `npm run cli -- <command>`): the admin command line, on the same services as the
 * server, against the configured database (DATABASE_URL, or the embedded PostgreSQL in DATA_DIR — the running
 * server's, or started for the command). Answers on stdout (`--json` for scripts); a refusal is one line on
 * stderr and exit code 1; a misuse of the command line, its usage and exit code 2.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let db: CliDatabase | undefined;
  let json = false;
  const open = async () => (db ??= await CliDatabase.open(loadConfig(io.env)));
  const commands = async () => new Commands(await open(), io);
  const print = (answer: Answer) => io.out(json ? `${JSON.stringify(answer.json, null, 2)}\n` : answer.text);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const run = <A extends any[]>(action: (...args: A) => Promise<Answer | void>) => async (...args: A) => {
    // Everything a command changes is recorded in the audit trail with actor `cli`, named after the OS user.
    const answer = await runAsCli(() => action(...args));
    if (answer) print(answer);
  };

  const program = new Command('portcullis')
    .description('Portcullis admin command line: users, apps, signing keys, the database, pruning and the audit trail.\n' +
      'It works on the configured database (DATABASE_URL, CONFIG_FILE, DATA_DIR: the same settings as the server).')
    .option('--json', 'print the answer as JSON (for scripts)')
    .showHelpAfterError('(run portcullis --help for the commands)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .hook('preAction', (command) => {
      json = Boolean(command.optsWithGlobals().json);
    });

  program.command('users:create').description('create a user; without --password one is generated and shown once')
    .argument('<username>')
    .addOption(new Option('--role <role>', 'admin or user').choices(['admin', 'user']).default('user'))
    .option('--password <password>', 'the password (other users of this machine can see it in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .option('--email <email>').option('--given-name <name>').option('--family-name <name>')
    .action(run(async (username: string, options: Parameters<Commands['usersCreate']>[1]) => (await commands()).usersCreate(username, options)));

  program.command('users:set-password').description('set a user\'s password (ends their sessions and tokens); without --password one is generated and shown once')
    .argument('<username>')
    .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from standard input')
    .action(run(async (username: string, options: Parameters<Commands['usersSetPassword']>[1]) => (await commands()).usersSetPassword(username, options)));

  program.command('apps:create').description('register an app (provenance api); its secret is shown once')
    .requiredOption('--name <name>', 'internal name')
    .option('--display-name <name>', 'shown on the consent page (default: the name)')
    .option('--redirect-uri <uri...>', 'redirect URIs (https, or http on a loopback host)')
    .option('--grant-type <type...>', 'authorization_code (default), refresh_token, client_credentials')
    .option('--scope <scopes>', 'space-separated scopes the app may ask for')
    .option('--public', 'a public client (no secret; token_endpoint_auth_method none)')
    .addOption(new Option('--application-type <type>').choices(['web', 'native']))
    .option('--org <uuid>', 'the org (default: the default org)')
    .action(run(async (options: Parameters<Commands['appsCreate']>[0]) => (await commands()).appsCreate(options)));

  program.command('apps:list').description('list every app')
    .action(run(async () => (await commands()).appsList()));

  program.command('apps:rotate-secret').description('give an app a new secret (the old one stops working at once); shown once')
    .argument('<client-id-or-id>', 'the app\'s client_id or id')
    .action(run(async (ref: string) => (await commands()).appsRotateSecret(ref)));

  program.command('keys:rotate').description('make a new signing key active on every instance (the old one stays published until its tokens expire)')
    .action(run(async () => (await commands()).keysRotate()));

  program.command('db:migrate').description('apply pending migrations (under the advisory lock instances use)')
    .action(run(async () => (await commands()).dbMigrate()));

  program.command('db:status').description('list the migrations, applied or pending (changes nothing)')
    .action(run(async () => (await commands()).dbStatus()));

  program.command('prune').description('prune expired codes, tokens, denied jtis, sessions, retired keys and unused self-registered apps now')
    .action(run(async () => (await commands()).prune()));

  program.command('audit:tail').description('print the newest audit events, oldest first; --follow keeps printing new ones')
    .option('-n, --lines <count>', 'how many (1-1000)', '20')
    .option('--type <types>', 'only these event types (comma-separated)')
    .option('-f, --follow', 'keep printing new events until interrupted')
    .action(run(async (options: { lines: string; type?: string; follow?: boolean }) => {
      await tailAudit(await open(), io, { ...options, json });
    }));

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    io.err(`portcullis: ${message(e)}\n`);
    return 1;
  } finally {
    await db?.close().catch(() => undefined);
  }
}

function message(e: unknown): string {
  if (e instanceof CliError) return e.message;
  if (e instanceof ApiProblem) return describeProblem(e);
  if (e instanceof ConfigError) return `invalid configuration: ${e.message}`;
  if (e instanceof EmbeddedPostgresError) return e.message;
  if (isDatabaseUnavailable(e)) return `the database cannot be reached (${(e as Error).message})`;
  return e instanceof Error ? `failed: ${e.message}` : `failed: ${String(e)}`;
}

if (require.main === module) {
  runCli(process.argv.slice(2), processIo()).then((code) => process.exit(code));
}

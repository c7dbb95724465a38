import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { runCli } from '../../src/cli/main';
import { PROJECT_ROOT } from '../../src/common/paths';
import { bootApp, freePort, TEST_ADMIN_PASSWORD, TestApp } from '../helpers/app';
import { basic } from '../helpers/clients';
import { createTestDatabase } from '../helpers/database';
import { postLogin } from '../helpers/identity';
import { ServerProcess } from '../helpers/server-process';

/**
 * The admin CLI (issue 15, item 4): every command end to end against a real database, each checked through a
 * running server on the same database — a user it created signs in, an app's secret it printed authenticates, a
 * key it rotated is published — and its refusals: one line on stderr and a non-zero exit.
 */

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** One CLI run in this process, as `portcullis <args>` with these settings. */
async function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(args, {
    env: { LOG_LEVEL: 'warn', BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, ...env },
    out: (text) => (out += text),
    err: (text) => (err += text),
    readStdin: async () => stdin,
  });
  return { code, out, err };
}

const oneLine = (run: Run) => {
  expect(run.err.trimEnd().split('\n')).toHaveLength(1);
  expect(run.err).toMatch(/^portcullis: \S/);
};

describe('the admin CLI against a server\'s database', () => {
  let t: TestApp;
  let env: Record<string, string>;
  beforeAll(async () => {
    t = await bootApp();
    env = { DATABASE_URL: t.databaseUrl };
  });
  afterAll(() => t.close());

  const signsIn = async (username: string, password: string) => (await postLogin(t, username, password)).status === 303;

  it('prints its commands with --help', async () => {
    const run = await cli(['--help'], env);
    expect(run.code).toBe(0);
    for (const command of ['users:create', 'users:set-password', 'apps:create', 'apps:list', 'apps:rotate-secret', 'keys:rotate', 'db:migrate', 'db:status', 'prune', 'audit:tail']) {
      expect(run.out).toContain(command);
    }
  });

  it('refuses an unknown command with its usage and exit code 2', async () => {
    const run = await cli(['frobnicate'], env);
    expect(run.code).toBe(2);
    expect(run.err).toContain("unknown command 'frobnicate'");
  });

  it('users:create makes a user who can sign in, with a generated password shown once', async () => {
    const run = await cli(['users:create', 'carol', '--role', 'admin', '--json'], env);
    expect(run.code).toBe(0);
    const answer = JSON.parse(run.out);
    expect(answer).toMatchObject({ username: 'carol', role: 'admin', password: expect.stringMatching(/^[A-Za-z0-9_-]{24}$/) });
    expect(await signsIn('carol', answer.password)).toBe(true);
  });

  it('users:create takes the password from standard input', async () => {
    const run = await cli(['users:create', 'dave', '--password-stdin'], env, 'correct-horse-battery\n');
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^created user dave \(id [0-9a-f-]{36}, role user\)\n$/);
    expect(await signsIn('dave', 'correct-horse-battery')).toBe(true);
  });

  it.each([
    [['users:create', 'not valid'], /username must be/],
    [['users:create', 'erin', '--password', 'short'], /password must be 8 characters/],
    [['users:create', 'admin', '--password', 'long-enough-password'], /A user named "admin" already exists/],
    [['users:create', 'frank', '--role', 'root'], /Allowed choices are admin, user/],
  ])('users:create %j refuses in one line with a non-zero exit', async (args, reason) => {
    const run = await cli(args, env);
    expect(run.code).not.toBe(0);
    expect(run.err).toMatch(reason);
  });

  it('users:set-password changes the password: the old one stops working', async () => {
    await cli(['users:create', 'gina', '--password', 'first-password-1'], env);
    const run = await cli(['users:set-password', 'gina', '--password-stdin'], env, 'second-password-2');
    expect(run.code).toBe(0);
    expect(await signsIn('gina', 'first-password-1')).toBe(false);
    expect(await signsIn('gina', 'second-password-2')).toBe(true);
  });

  it('users:set-password refuses an unknown user', async () => {
    const run = await cli(['users:set-password', 'nobody-here'], env);
    expect(run.code).toBe(1);
    oneLine(run);
    expect(run.err).toContain('no user named "nobody-here"');
  });

  it('apps:create registers an app whose printed secret authenticates; apps:list shows it', async () => {
    const run = await cli(['apps:create', '--name', 'reports', '--grant-type', 'client_credentials', '--json'], env);
    expect(run.code).toBe(0);
    const app = JSON.parse(run.out);
    expect(app).toMatchObject({ name: 'reports', provenance: 'api', client_secret: expect.any(String) });
    const token = await request(t.url).post('/oauth2/token').set('Authorization', basic(app.client_id, app.client_secret)).type('form').send({ grant_type: 'client_credentials' });
    expect(token.status).toBe(200);
    const list = await cli(['apps:list', '--json'], env);
    expect(JSON.parse(list.out).map((a: { client_id: string }) => a.client_id)).toContain(app.client_id);
    expect(list.out).not.toContain(app.client_secret);
    const text = await cli(['apps:list'], env);
    expect(text.out).toMatch(new RegExp(`^${app.client_id}\\s+api\\s+reports\\s`, 'm'));
  });

  it('apps:create refuses what the API refuses', async () => {
    const run = await cli(['apps:create', '--name', 'bad', '--redirect-uri', 'http://evil.example.com/cb'], env);
    expect(run.code).toBe(1);
    oneLine(run);
    expect(run.err).toMatch(/https/);
  });

  it('apps:rotate-secret by client_id: the old secret stops working, the new one works', async () => {
    const app = JSON.parse((await cli(['apps:create', '--name', 'rotating', '--grant-type', 'client_credentials', '--json'], env)).out);
    const run = await cli(['apps:rotate-secret', app.client_id, '--json'], env);
    expect(run.code).toBe(0);
    const rotated = JSON.parse(run.out);
    const tokenWith = (secret: string) => request(t.url).post('/oauth2/token').set('Authorization', basic(app.client_id, secret)).type('form').send({ grant_type: 'client_credentials' });
    expect((await tokenWith(app.client_secret)).status).toBe(401);
    expect((await tokenWith(rotated.client_secret)).status).toBe(200);
  });

  it('apps:rotate-secret refuses an unknown app', async () => {
    const run = await cli(['apps:rotate-secret', 'no-such-client'], env);
    expect(run.code).toBe(1);
    expect(run.err).toContain('No app with this id');
  });

  it('keys:rotate makes a key the running server publishes at once', async () => {
    const run = await cli(['keys:rotate', '--json'], env);
    expect(run.code).toBe(0);
    const { kid } = JSON.parse(run.out);
    const jwks = await request(t.url).get('/oauth2/jwks');
    expect(jwks.body.keys.map((k: { kid: string }) => k.kid)).toContain(kid);
  });

  it('records what it changes in the audit trail as the cli actor, and audit:tail prints it', async () => {
    await cli(['users:create', 'ivy', '--password', 'ivy-password-1'], env);
    const tail = await cli(['audit:tail', '-n', '5', '--type', 'user.created', '--json'], env);
    expect(tail.code).toBe(0);
    const events = tail.out.trim().split('\n').map((line) => JSON.parse(line));
    expect(events.at(-1)).toMatchObject({ type: 'user.created', outcome: 'success', actor_type: 'cli', request_id: expect.stringMatching(/^cli-/) });
    const text = await cli(['audit:tail', '-n', '1', '--type', 'user.created'], env);
    expect(text.out).toMatch(/^\S+Z {2}user\.created {2}success {2}by cli:\S+ {2}user [0-9a-f-]{36} {2}request cli-[0-9a-f-]{36}\n$/);
    expect(tail.out).not.toContain('ivy-password-1');
  });

  it('audit:tail --follow prints new events until interrupted', async () => {
    let stop!: () => void;
    const interrupted = new Promise<void>((resolve) => (stop = resolve));
    let out = '';
    const following = runCli(['audit:tail', '-n', '1', '--type', 'app.registered', '--follow'], {
      env: { LOG_LEVEL: 'warn', ...env }, out: (text) => (out += text), err: () => undefined, readStdin: async () => '', interrupted,
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await cli(['apps:create', '--name', 'followed', '--grant-type', 'client_credentials'], env);
    for (let i = 0; i < 100 && !out.includes('app.registered'); i++) await new Promise((resolve) => setTimeout(resolve, 100));
    stop();
    expect(await following).toBe(0);
    expect(out).toMatch(/app\.registered {2}success {2}by cli:/);
  });

  it('audit:tail refuses a malformed type or count in one line', async () => {
    const run = await cli(['audit:tail', '--type', 'DROP TABLE'], env);
    expect(run.code).toBe(1);
    oneLine(run);
    expect((await cli(['audit:tail', '-n', '0'], env)).err).toContain('--lines must be a whole number from 1 to 1000');
  });

  it('prune reports what it pruned, by table', async () => {
    const run = await cli(['prune', '--json'], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ codes: { rows: expect.any(Number) }, refreshTokens: { rows: expect.any(Number) }, browserSessions: { rows: expect.any(Number) }, unusedApps: expect.any(Number) });
  });
});

describe('the admin CLI and the schema', () => {
  it('db:status lists pending migrations on an empty database, db:migrate applies them, then nothing is pending', async () => {
    const env = { DATABASE_URL: await createTestDatabase({ empty: true }) };
    const before = await cli(['db:status', '--json'], env);
    expect(before.code).toBe(0);
    const status = JSON.parse(before.out);
    expect(status.pending).toBe(status.migrations.length);
    const migrate = await cli(['db:migrate'], env);
    expect(migrate.code).toBe(0);
    expect(migrate.out).toMatch(/^applied CreateSchema\d+, /);
    expect((await cli(['db:status'], env)).out).toMatch(/the schema is up to date\n$/);
    expect((await cli(['db:migrate'], env)).out).toBe('nothing to apply: the schema is up to date\n');
  });

  it('refuses a bad setting in one line naming it', async () => {
    const run = await cli(['apps:list'], { DATABASE_URL: 'mysql://nope' });
    expect(run.code).toBe(1);
    oneLine(run);
    expect(run.err).toContain('invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL with a host');
  });

  it('says in one line when the database cannot be reached', async () => {
    const port = await freePort();
    const run = await cli(['db:status'], { DATABASE_URL: `postgres://nobody:secret@127.0.0.1:${port}/nothing` });
    expect(run.code).toBe(1);
    oneLine(run);
    expect(run.err).toMatch(/^portcullis: the database cannot be reached/);
    expect(run.err).not.toContain('secret');
  });
});

describe('the admin CLI as a process, beside a running server on the embedded PostgreSQL', () => {
  let server: ServerProcess;
  let url: string;
  let dataDir: string;
  let metricsPort: string;
  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'portcullis-cli-'));
    chmodSync(dataDir, 0o755); // the embedded PostgreSQL runs as the postgres user, who must reach its data directory
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    // The server's own metrics port: a command run with the same settings must not try to open it too.
    metricsPort = String(await freePort());
    server = new ServerProcess({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, BOOTSTRAP_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, SHUTDOWN_DRAIN_DELAY: '0', METRICS_PORT: metricsPort });
    await server.waitUntilReady(`${url}/readyz`, 120_000);
  });
  afterAll(async () => {
    server.kill('SIGTERM');
    await server.exited;
  });

  /** `portcullis <args>` in its own process, as `npm run cli` runs it. */
  function processRun(args: string[], stdin = ''): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(PROJECT_ROOT, 'src/cli/main.ts'), ...args], {
        cwd: PROJECT_ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', DATA_DIR: dataDir, LOG_LEVEL: 'warn', METRICS_PORT: metricsPort },
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('exit', (code) => resolve({ code: code ?? -1, out, err }));
      child.stdin.end(stdin);
    });
  }

  it('creates a user in the running server\'s database (its embedded PostgreSQL), who then signs in there', async () => {
    const run = await processRun(['users:create', 'henry', '--password-stdin'], 'henry-password-1');
    expect(run).toMatchObject({ code: 0, out: expect.stringMatching(/^created user henry/) });
    const form = await request(url).get('/login');
    const csrf = /name="csrf_token" value="([^"]+)"/.exec(form.text)![1];
    const cookie = (form.headers['set-cookie'] as unknown as string[]).map((c) => c.split(';')[0]).join('; ');
    const login = await request(url).post('/login').set('Cookie', cookie).type('form').send({ username: 'henry', password: 'henry-password-1', csrf_token: csrf, return_to: '/' });
    expect(login.status).toBe(303);
    expect(login.headers['set-cookie']?.toString()).toContain('session_id=');
  });

  it('exits 1 with one line for a refusal, and 2 for a misuse', async () => {
    const refused = await processRun(['users:set-password', 'nobody']);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe('portcullis: no user named "nobody"\n');
    expect((await processRun(['users:create'])).code).toBe(2);
  });
});

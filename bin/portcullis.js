#!/usr/bin/env node
// `npx portcullis <command>`: the admin CLI, from the build (npm run build; npm start builds it too).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const built = join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!existsSync(built)) {
  process.stderr.write('portcullis: the CLI is not built yet: run `npm run build` (or use `npm run cli -- <command>`)\n');
  process.exit(1);
}
const { runCli } = require(built);
const { processIo } = require(join(__dirname, '..', 'dist', 'src', 'cli', 'cli-io.js'));
runCli(process.argv.slice(2), processIo()).then((code) => process.exit(code));

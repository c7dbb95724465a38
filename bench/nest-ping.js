// The baseline for the discovery and JWKS workloads of bench/run.ts: the least a NestJS + Express app does to answer
// a GET with a small JSON body. Plain JavaScript (decorators applied as functions) so it runs on bare `node` with
// nothing compiled and no TypeScript compiler in its memory.
// Usage: node bench/nest-ping.js <port>
require('reflect-metadata');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');

class PingController {
  ping() {
    return { ok: true };
  }
}
Get('ping')(PingController.prototype, 'ping', Object.getOwnPropertyDescriptor(PingController.prototype, 'ping'));
Controller()(PingController);

class PingModule {}
Module({ controllers: [PingController] })(PingModule);

async function main() {
  const app = await NestFactory.create(PingModule, { logger: false });
  await app.listen(Number(process.argv[2]), '127.0.0.1');
  process.stdout.write('READY\n');
}

main().catch((e) => {
  process.stderr.write(`${e?.stack ?? e}\n`);
  process.exit(1);
});

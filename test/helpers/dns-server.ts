import { createSocket, Socket } from 'node:dgram';
import { AddressInfo } from 'node:net';

/**
 * A tiny real DNS server on UDP loopback (RFC 1035): A queries for the names it was given are answered with their
 * IPv4 address; anything else gets NXDOMAIN. Enough to point OAUTH2_CIMD_DNS_SERVERS at, so a test can make an
 * innocent-looking name resolve to a loopback or private address.
 */
export class DnsServer {
  private constructor(private readonly socket: Socket, readonly port: number, private readonly names: Map<string, string>) {}

  static async start(names: Record<string, string>): Promise<DnsServer> {
    const socket = createSocket('udp4');
    const map = new Map(Object.entries(names).map(([name, ip]) => [name.toLowerCase(), ip]));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const server = new DnsServer(socket, (socket.address() as AddressInfo).port, map);
    socket.on('message', (message, peer) => {
      const answer = server.answer(message);
      if (answer) socket.send(answer, peer.port, peer.address);
    });
    return server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private answer(query: Buffer): Buffer | undefined {
    if (query.length < 12) return undefined;
    // The question: labels up to a zero byte, then QTYPE and QCLASS.
    const labels: string[] = [];
    let offset = 12;
    while (offset < query.length && query[offset] !== 0) {
      const length = query[offset];
      labels.push(query.subarray(offset + 1, offset + 1 + length).toString('ascii'));
      offset += length + 1;
    }
    const questionEnd = offset + 5;
    if (questionEnd > query.length) return undefined;
    const type = query.readUInt16BE(offset + 1);
    const ip = this.names.get(labels.join('.').toLowerCase());
    const found = ip !== undefined;
    const answers = found && type === 1 ? 1 : 0;
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(0x8180 | (found ? 0 : 3), 2); // response, recursion desired + available; NXDOMAIN when unknown
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers, 6);
    const question = query.subarray(12, questionEnd);
    if (!answers) return Buffer.concat([header, question]);
    const record = Buffer.alloc(16);
    record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    record.writeUInt16BE(1, 2); // A
    record.writeUInt16BE(1, 4); // IN
    record.writeUInt32BE(60, 6); // TTL
    record.writeUInt16BE(4, 10);
    (ip as string).split('.').forEach((part, i) => record.writeUInt8(Number(part), 12 + i));
    return Buffer.concat([header, question, record]);
  }
}

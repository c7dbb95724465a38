import { AddressPolicy } from './address-policy';

describe('AddressPolicy (what a metadata-document fetch may reach)', () => {
  const strict = new AddressPolicy([]);

  it.each([
    ['127.0.0.1', 'loopback'], ['::1', 'loopback'], ['10.0.0.5', 'private'], ['172.16.1.1', 'private'], ['192.168.1.1', 'private'],
    ['169.254.169.254', 'linkLocal'], ['fe80::1', 'linkLocal'], ['fd00::1', 'uniqueLocal'], ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'], ['::', 'unspecified'], ['224.0.0.1', 'multicast'], ['255.255.255.255', 'broadcast'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:10.0.0.1', 'private'], ['2002:7f00:1::1', '6to4'], ['192.0.2.1', 'reserved'],
  ])('refuses %s (%s)', (address, range) => {
    expect(strict.problem(address)).toMatch(new RegExp(`is a ${range} address$`));
  });

  it.each(['93.184.215.14', '2606:4700::6810:84e5', '::ffff:93.184.215.14'])('allows the public address %s', (address) => {
    expect(strict.problem(address)).toBeUndefined();
  });

  it('allows what the operator lists, and only that', () => {
    const policy = new AddressPolicy(['127.0.0.1/32', '10.20.0.0/16', 'fd00::/8']);
    expect(policy.problem('127.0.0.1')).toBeUndefined();
    expect(policy.problem('::ffff:127.0.0.1')).toBeUndefined();
    expect(policy.problem('10.20.3.4')).toBeUndefined();
    expect(policy.problem('fd12::1')).toBeUndefined();
    expect(policy.problem('127.0.0.2')).toMatch(/loopback/);
    expect(policy.problem('10.21.0.1')).toMatch(/private/);
  });

  it('refuses what is not an address at all', () => {
    expect(strict.problem('localhost')).toBe('localhost is not an IP address');
  });
});

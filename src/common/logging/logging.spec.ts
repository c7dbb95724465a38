import { serializeError } from './logging';

describe('serializeError', () => {
  it('logs an Error by its type, message and stack', () => {
    const e = new TypeError('boom');
    expect(serializeError(e)).toEqual({ type: 'TypeError', message: 'boom', stack: e.stack });
  });

  it('logs a thrown plain object by its type and content, never as [object Object]', () => {
    const logged = serializeError({ reason: 'not an Error' });
    expect(logged).toEqual({ type: 'Object', message: "{ reason: 'not an Error' }", stack: expect.stringContaining('thrown here') });
    expect(JSON.stringify(logged)).not.toContain('[object Object]');
  });

  it("reads the original error from pino's rendering of it (`raw`), as pino-http passes it", () => {
    const e = new RangeError('out of range');
    const rendered = Object.create({ get raw() { return e; } }, { type: { value: 'RangeError', enumerable: true }, message: { value: 'out of range', enumerable: true } });
    expect(serializeError(rendered)).toEqual({ type: 'RangeError', message: 'out of range', stack: e.stack });
  });

  it('logs a thrown string or null by its type', () => {
    expect(serializeError('text')).toMatchObject({ type: 'string', message: "'text'" });
    expect(serializeError(null)).toMatchObject({ type: 'null', message: 'null' });
  });
});

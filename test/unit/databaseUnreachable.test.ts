import { databaseUnreachable } from '../../src/db/unreachable';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('databaseUnreachable', () => {
  it.each([
    ['a refused connection', withCode('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:5432')],
    ['a host name not resolved yet', withCode('ENOTFOUND', 'getaddrinfo ENOTFOUND postgres')],
    ['a session terminated by an administrator', withCode('57P01', 'terminating connection due to administrator command')],
    ['a server still starting up', withCode('57P03', 'the database system is starting up')],
    ['a connection exception', withCode('08006')],
    ['a session the server closed', new Error('Connection terminated unexpectedly')],
    ['any of them as the cause of another error', new Error('migration 0001_x.sql failed', { cause: withCode('ECONNRESET') })],
  ])('waits on %s', (_, err) => {
    expect(databaseUnreachable(err)).toBe(true);
  });

  it.each([
    ['a refused password', withCode('28P01', 'password authentication failed for user "postgres"')],
    ['a database that does not exist', withCode('3D000', 'database "nope" does not exist')],
    ['a failed migration', new Error('migration 0001_x.sql failed: syntax error', { cause: withCode('42601') })],
    ['something that is not an error', 'ECONNREFUSED'],
  ])('fails at once on %s', (_, err) => {
    expect(databaseUnreachable(err)).toBe(false);
  });
});

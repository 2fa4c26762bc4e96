/**
 * `npm run test:chaos`: one long run of mixed money traffic while processes are killed, database
 * connections cut, the homeserver taken away and Temporal restarted (test/chaos/chaos.test.ts).
 * CHAOS_SECONDS sets the load's length (120 in CI; longer by hand).
 */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/test/chaos'],
  testPathIgnorePatterns: ['/node_modules/'],
  maxWorkers: 1,
};

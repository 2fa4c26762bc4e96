/**
 * `npm run test:e2e`: the Application Service against a real Synapse (installed from PyPI into
 * .tools/synapse when absent). One file at a time: each starts its own Synapse and server processes.
 */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/test/synapse'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 180_000,
  maxWorkers: 1,
};

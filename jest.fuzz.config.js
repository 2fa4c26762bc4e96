/**
 * `npm run test:fuzz`: Schemathesis against the running API, from its own /openapi.json, once per
 * kind of caller (test/fuzz). Installed from PyPI into .tools/schemathesis when absent.
 */
const base = require('./jest.config');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  roots: ['<rootDir>/test/fuzz'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 300_000,
  maxWorkers: 1,
};

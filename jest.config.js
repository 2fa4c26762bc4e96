/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Run on their own: the suite against a real Synapse (`npm run test:e2e`), the API fuzz (`npm run test:fuzz`) and the chaos run (`npm run test:chaos`).
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/synapse/', '<rootDir>/test/fuzz/', '<rootDir>/test/chaos/'],
  transform: { '^.+\\.(t|j|mj)s$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  // ESM-only packages are compiled to CommonJS for jest's module system (Node itself loads them natively).
  transformIgnorePatterns: ['/node_modules/(?!(?:.*/node_modules/)?(?:jose|p-limit|yocto-queue|otplib|@otplib|@noble|@scure|openid-client|oauth4webapi)/)'],
  globalSetup: '<rootDir>/test/setup/globalSetup.ts',
  globalTeardown: '<rootDir>/test/setup/globalTeardown.ts',
  testTimeout: 60_000,
  maxWorkers: 2,
};

/** Names under which globalSetup hands the shared servers to the test files. */
export const TEST_ENV = {
  adminUrl: 'TMCP_TEST_PG_ADMIN_URL',
  temporalAddress: 'TMCP_TEST_TEMPORAL_ADDRESS',
  /** A scratch folder for this run; globalTeardown removes it. */
  scratchDir: 'TMCP_TEST_SCRATCH_DIR',
  /** The workflows, bundled once per run so each test file's worker starts in well under a second. */
  workflowBundle: 'TMCP_TEST_WORKFLOW_BUNDLE',
} as const;

export const TEMPLATE_DATABASE = 'tmcp_test_template';

export function testEnv(name: keyof typeof TEST_ENV): string {
  const value = process.env[TEST_ENV[name]];
  if (!value) throw new Error(`${TEST_ENV[name]} is not set: run the tests through jest (globalSetup starts the servers)`);
  return value;
}

/** Two projects: fast unit tests (mocks allowed) and integration tests on the real local emulators. */
const swc = [
  '@swc/jest',
  { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'commonjs' } },
];
const common = {
  transform: { '^.+\\.(t|j)sx?$': swc },
  transformIgnorePatterns: ['/node_modules/(?!@middy/|hyparquet|hysnappy)'],
  testEnvironment: 'node',
  // The DuckDB layer's build output (layers/duckdb/.build) is a copy of packages, not project code.
  modulePathIgnorePatterns: ['<rootDir>/layers/duckdb/.build/'],
  setupFilesAfterEnv: ['<rootDir>/tests/setup.ts'],
};

/** @type {import('jest').Config} */
module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/tests/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/tests/integration/**/*.test.ts'],
      // A project's own testTimeout is ignored by Jest (only the global one counts): set per file instead.
      setupFilesAfterEnv: [...common.setupFilesAfterEnv, '<rootDir>/tests/integration/timeout.ts'],
    },
  ],
};

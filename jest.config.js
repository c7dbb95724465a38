/** One run: unit specs beside the code and end-to-end specs under test/, all against one PostgreSQL cluster. */
module.exports = {
  rootDir: '.',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts', '<rootDir>/test/**/*.e2e-spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  // Generous: a loaded machine must pass too; speed is measured in bench/, never by a timeout here.
  testTimeout: 120000,
  // The machine has 2 cores; jest's default would use one worker.
  maxWorkers: 2,
};

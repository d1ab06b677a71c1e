/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  // examples/ holds a recipe suite users copy; it runs with ours so it cannot rot.
  roots: ['<rootDir>/__tests__', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts', '**/examples/**/*.test.js'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.test.json' }] },
};

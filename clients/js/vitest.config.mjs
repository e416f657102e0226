// Runs only the compiled conformance file (npx tsc first).
export default {
  test: {
    include: ['dist/test/conformance/validate.js'],
    globals: true,
    testTimeout: 60000,
    hookTimeout: 60000,
    fileParallelism: false,
  },
};

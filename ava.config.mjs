// ava's settings for `npm test` (README, Tests).
export default {
  files: ['dist/test/**/*.test.js'],
  timeout: '2m',
  // Three test files at a time on two cores: most of them wait on node processes part of the time.
  concurrency: 3,
  environmentVariables: {
    // Read at every Node process's start, a bundle named here (some machines
    // set the system's) costs about 85 ms of CPU in each of the 500-odd node,
    // CLI and tool processes a run starts: a sixteenth of the suite's CPU.
    // Nothing the tests start trusts any CA but a test cluster's own.
    NODE_EXTRA_CA_CERTS: '',
  },
};

#!/usr/bin/env node
// The logbase CLI. TypeScript sources run through tsx, so there is no build step to forget.
require('tsx/cjs');
const { main } = require('../cli/main.ts');

main(process.argv).catch((error) => {
  console.error(`logbase: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});

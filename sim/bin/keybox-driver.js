#!/usr/bin/env node
// Runs the TypeScript driver client through tsx, so `npx keybox-driver` works from a clone.
require("tsx/cjs");
require("../driver/cli.ts");

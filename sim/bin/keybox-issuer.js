#!/usr/bin/env node
// Runs the TypeScript issuer tool through tsx, so `npx keybox-issuer` works from a clone.
require("tsx/cjs");
require("../issuer/cli.ts");

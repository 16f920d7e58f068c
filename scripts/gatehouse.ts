#!/usr/bin/env node
// The Gatehouse CLI (`npx gatehouse <command>`, or `npm run gatehouse -- <command>`). See README "CLI".
import { main } from "../src/cli/main.ts";

process.exitCode = await main(process.argv.slice(2));

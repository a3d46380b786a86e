#!/usr/bin/env node
/** The `husk` executable (package.json bin → dist/cli/main.js). */
import { runCli } from './cli.js';

process.exitCode = await runCli(process.argv.slice(2));

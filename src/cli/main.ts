#!/usr/bin/env node
/** Bin entry of `pii-gateway`: runs the command dispatcher (cli/index.ts) and sets the exit code. */
import { main } from './index.js';

process.exitCode = await main(process.argv.slice(2));

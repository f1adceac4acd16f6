/**
 * Writes schema/rules.schema.json from src/rules/schema.ts, the schema the loader validates with.
 * Run after changing the schema: `npm run schema` (a test fails while the two differ).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { schemaJson } from '../src/rules/schema.js';

const target = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'schema', 'rules.schema.json');
writeFileSync(target, schemaJson());
process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);

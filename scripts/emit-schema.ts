// npm run schema: write environments/schema.json from the zod schema (npm run build writes it too,
// with the bundles; this is the quick way after editing src/config/schema.ts).
import { writeFileSync } from "node:fs";
import path from "node:path";
import { environmentJsonSchema, schemaFile } from "../src/config/json-schema.js";

const file = path.join(import.meta.dirname, "..", schemaFile);
writeFileSync(file, environmentJsonSchema());
console.log(`wrote ${schemaFile}`);

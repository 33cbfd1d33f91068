// ssh2 reads __dirname while loading (to find its optional native addon); an ESM bundle has no
// __dirname, so define one before anything else is imported. Bundles use ssh2's pure-JS path.
import { fileURLToPath } from "node:url";
import path from "node:path";

const g = globalThis as { __dirname?: string; __filename?: string };
g.__filename ??= fileURLToPath(import.meta.url);
g.__dirname ??= path.dirname(g.__filename);

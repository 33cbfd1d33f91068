export const id = 771;
export const ids = [771];
export const modules = {

/***/ 6771:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   lintAlembicRevisions: () => (/* binding */ lintAlembicRevisions)
/* harmony export */ });
/* unused harmony export splitRevisions */
/* harmony import */ var node_child_process__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(1421);
/* harmony import */ var node_child_process__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(node_child_process__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(3024);
/* harmony import */ var node_fs__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_fs__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(6760);
/* harmony import */ var node_path__WEBPACK_IMPORTED_MODULE_2___default = /*#__PURE__*/__webpack_require__.n(node_path__WEBPACK_IMPORTED_MODULE_2__);
// alembic revisions linted like SQL migrations: the SQL `alembic upgrade <from>:head --sql` prints in
// offline mode (no database: the project's env.py needs alembic's usual offline branch) is cut per
// revision at alembic's "-- Running upgrade A -> B" comments, and each piece goes through the same
// parser, rules and classification. Run on the runner, in migrations.dir; without alembic there (or
// with an env.py that cannot run offline) the caller says the revisions were not linted, and why.



/** alembic's offline SQL, one piece per revision (the transaction's BEGIN travels with its revision; the version table's creation with none). */
function splitRevisions(sql) {
    const out = [];
    let carry = [];
    for (const line of sql.split("\n")) {
        const m = /^-- Running upgrade \S* -> (\S+)/.exec(line);
        if (m) {
            // a BEGIN just before the marker opens this revision's transaction
            const begin = carry.filter((l) => l.trim() !== "").at(-1)?.trim() === "BEGIN;";
            if (out.length && !begin)
                out.at(-1).sql += carry.join("\n");
            else if (out.length)
                out.at(-1).sql += carry.slice(0, carry.lastIndexOf("BEGIN;")).join("\n");
            out.push({ revision: m[1].replace(/,$/, ""), sql: begin ? "BEGIN;\n" : "" });
            carry = [];
            continue;
        }
        carry.push(line);
    }
    if (out.length)
        out.at(-1).sql += carry.join("\n");
    return out;
}
/** The revision files under dir: revision id -> [path relative to dir, the line of `def upgrade`]. */
function revisionFiles(dir) {
    const found = new Map();
    const walk = (d, depth) => {
        for (const e of (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.readdirSync)(d, { withFileTypes: true })) {
            const p = node_path__WEBPACK_IMPORTED_MODULE_2___default().join(d, e.name);
            if (e.isDirectory() && depth < 3 && !e.name.startsWith(".") && e.name !== "__pycache__")
                walk(p, depth + 1);
            else if (e.isFile() && e.name.endsWith(".py")) {
                const text = (0,node_fs__WEBPACK_IMPORTED_MODULE_1__.readFileSync)(p, "utf8");
                const id = /^revision\s*(?::\s*str\s*)?=\s*['"]([^'"]+)['"]/m.exec(text)?.[1];
                if (id)
                    found.set(id, { file: node_path__WEBPACK_IMPORTED_MODULE_2___default().relative(dir, p), line: Math.max(1, text.split("\n").findIndex((l) => /^def upgrade\b/.test(l)) + 1) });
            }
        }
    };
    walk(dir, 0);
    return found;
}
/** `alembic upgrade <from>:head --sql` in dir: its stdout, or why it could not run. */
function offlineSql(dir, from) {
    const args = ["upgrade", from ? `${from}:head` : "head", "--sql"];
    return new Promise((resolve) => 
    // no .pyc files left in the user's checkout
    (0,node_child_process__WEBPACK_IMPORTED_MODULE_0__.execFile)("alembic", args, { cwd: dir, timeout: 120_000, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, PYTHONDONTWRITEBYTECODE: "1" } }, (err, stdout, stderr) => {
        if (!err)
            return resolve({ sql: stdout });
        if (err.code === "ENOENT")
            return resolve({ why: "alembic is not installed on the runner (apt-get install alembic, or pip install alembic)" });
        const last = stderr.trim().split("\n").filter(Boolean).slice(-1)[0] ?? err.message;
        resolve({ why: `\`alembic ${args.join(" ")}\` failed in ${dir} (${last.slice(0, 300)}); env.py needs an offline branch (context.is_offline_mode())` });
    }));
}
/**
 * The revisions after `from` (all of them without), linted and classified, in the order alembic
 * applies them; or why they were not. `repoDir` is migrations.dir as the repository names it.
 */
async function lintAlembicRevisions(dir, repoDir, o) {
    const got = await offlineSql(dir, o.from);
    if (got.sql === undefined)
        return { files: [], notLinted: got.why };
    const { classifyMigrationSql, lintMigrationSql } = await Promise.all(/* import() */[__webpack_require__.e(627), __webpack_require__.e(840)]).then(__webpack_require__.bind(__webpack_require__, 4840));
    const files = revisionFiles(dir);
    return {
        files: await Promise.all(splitRevisions(got.sql).map(async (r) => {
            const at = files.get(r.revision);
            const file = at ? node_path__WEBPACK_IMPORTED_MODULE_2___default().posix.join(repoDir, at.file.split((node_path__WEBPACK_IMPORTED_MODULE_2___default().sep)).join("/")) : `${repoDir} (revision ${r.revision})`;
            // positions in the generated SQL mean nothing in the .py file: each finding points at its upgrade() and says where in the SQL
            const findings = (await lintMigrationSql(r.sql, file, { severities: o.severities })).map((f) => ({ ...f, line: at?.line ?? 1, col: 1, message: `${f.message} (revision ${r.revision}, line ${f.line} of its SQL from alembic upgrade --sql)` }));
            return { name: at ? node_path__WEBPACK_IMPORTED_MODULE_2___default().basename(at.file) : `revision ${r.revision}`, version: r.revision, findings, ...(await classifyMigrationSql(r.sql, file)) };
        })),
    };
}


/***/ })

};

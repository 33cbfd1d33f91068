export const id = 840;
export const ids = [840];
export const modules = {

/***/ 4840:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   classifyMigrationSql: () => (/* binding */ classifyMigrationSql),
/* harmony export */   lintMigrationSql: () => (/* binding */ lintMigrationSql)
/* harmony export */ });
/* harmony import */ var libpg_query__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(2627);
/* harmony import */ var libpg_query__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(libpg_query__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var _operations_migrations_js__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(5717);
/* harmony import */ var _rules_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(834);
// Lints SQL migrations with PostgreSQL's own parser (libpg-query, compiled to WASM): statements
// that lose data, break the code still running against the old schema, or hold locks that stall
// production. Pure: no I/O, the caller passes the file's text.




/** Expand or contract, from the same parse as the lint and whatever severities the environment sets. */
async function classifyMigrationSql(sql, file) {
    const every = Object.fromEntries(Object.keys(_rules_js__WEBPACK_IMPORTED_MODULE_2__/* .LINT_RULES */ .wT).map((r) => [r, "warn"]));
    const findings = await lintMigrationSql(sql, file, { severities: every });
    const at = (f) => `line ${f.line}: ${f.message}`;
    const allowed = findings.filter((f) => f.allowed !== undefined).map((f) => `${f.rule}: ${f.allowed}`);
    const broken = findings.filter((f) => f.rule === "syntax-error");
    if (broken.length)
        return { class: "unknown", because: broken.map(at), allowed };
    const contract = findings.filter((f) => _rules_js__WEBPACK_IMPORTED_MODULE_2__/* .CONTRACT_RULES */ .pJ.has(f.rule));
    return { class: contract.length ? "contract" : "expand", because: contract.map(at), allowed };
}
async function lintMigrationSql(sql, file, o = {}) {
    if (sql.trim() === "")
        return []; // libpg-query throws on empty input
    const src = new Source(sql);
    let stmts;
    try {
        stmts = (await (0,libpg_query__WEBPACK_IMPORTED_MODULE_0__.parse)(sql)).stmts ?? [];
    }
    catch (e) {
        if (!(0,libpg_query__WEBPACK_IMPORTED_MODULE_0__.hasSqlDetails)(e))
            throw e;
        const at = src.position(src.byteOfCodePoint(e.sqlDetails.cursorPosition));
        const sev = severityOf("syntax-error", o.severities);
        return [finding("syntax-error", sev, file, at, e.sqlDetails.message)];
    }
    const st = { created: [], lockTimeout: false, lockReported: false, inBlock: false, noTransaction: o.noTransaction ?? _operations_migrations_js__WEBPACK_IMPORTED_MODULE_1__/* .NO_TRANSACTION_MARKER */ .C2.test(sql) };
    const findings = [];
    for (const raw of stmts) {
        if (!raw.stmt)
            continue;
        const start = src.statementStart(raw.stmt_location ?? 0); // absent for the first statement
        const at = src.position(start);
        const allows = src.allowsAbove(at.line);
        for (const hit of statementHits(raw.stmt, st)) {
            const sev = severityOf(hit.rule, o.severities);
            if (sev)
                findings.push(applyAllow(finding(hit.rule, sev, file, at, hit.message), allows));
        }
        track(raw.stmt, st);
    }
    return findings;
}
function severityOf(rule, overrides) {
    const s = overrides?.[rule] ?? _rules_js__WEBPACK_IMPORTED_MODULE_2__/* .LINT_RULES */ .wT[rule].default;
    if (s !== "off")
        return s;
    return rule === "syntax-error" ? _rules_js__WEBPACK_IMPORTED_MODULE_2__/* .LINT_RULES */ .wT[rule].default : undefined; // a file that cannot parse is always reported
}
function finding(rule, severity, file, at, message) {
    return { rule, severity, file, line: at.line, col: at.col, message, why: _rules_js__WEBPACK_IMPORTED_MODULE_2__/* .LINT_RULES */ .wT[rule].why, instead: _rules_js__WEBPACK_IMPORTED_MODULE_2__/* .LINT_RULES */ .wT[rule].instead };
}
function applyAllow(f, allows) {
    const reason = allows.get(f.rule);
    if (reason === undefined)
        return f;
    // an unexplained exception is no exception: the finding stands, saying what is missing
    if (reason === "")
        return { ...f, message: `${f.message} (-- slipway:allow ${f.rule} needs a reason after the rule name)` };
    return { ...f, allowed: reason };
}
// ---- rules -----------------------------------------------------------------------------------
function statementHits(node, st) {
    const hits = ruleHits(node, st);
    const locked = !st.lockTimeout && !st.lockReported ? exclusiveLockOn(node, st) : undefined;
    if (locked) {
        st.lockReported = true; // once per file: one SET at the top fixes them all
        hits.push({ rule: "require-lock-timeout", message: `${locked} with no lock_timeout set: while it waits for its ACCESS EXCLUSIVE lock, every query on the table queues behind it` });
    }
    return hits;
}
function ruleHits(node, st) {
    if ("AlterTableStmt" in node)
        return alterTableHits(node.AlterTableStmt, st);
    if ("DropStmt" in node)
        return dropHits(node.DropStmt, st);
    if ("TruncateStmt" in node)
        return rangeVars(node.TruncateStmt).map((r) => ({ rule: "ban-truncate", message: `TRUNCATE ${relName(r)}: deletes every row in the table` }));
    if ("DeleteStmt" in node && !node.DeleteStmt.whereClause) {
        return [{ rule: "unqualified-delete", message: `DELETE FROM ${relName(node.DeleteStmt.relation)} without WHERE: deletes every row` }];
    }
    if ("UpdateStmt" in node && !node.UpdateStmt.whereClause) {
        return [{ rule: "unqualified-update", message: `UPDATE ${relName(node.UpdateStmt.relation)} without WHERE: overwrites every row` }];
    }
    if ("RenameStmt" in node)
        return renameHits(node.RenameStmt);
    if ("IndexStmt" in node)
        return createIndexHits(node.IndexStmt, st);
    return [];
}
function alterTableHits(s, st) {
    if (s.objtype !== "OBJECT_TABLE")
        return []; // ALTER INDEX / VIEW / SEQUENCE … share the node
    const table = relName(s.relation);
    const isNew = isCreated(s.relation, st);
    return (s.cmds ?? []).flatMap((c) => ("AlterTableCmd" in c ? alterCmdHits(c.AlterTableCmd, table, isNew) : []));
}
function alterCmdHits(c, table, isNew) {
    const at = `ALTER TABLE ${table}`;
    switch (c.subtype) {
        case "AT_DropColumn":
            return [{ rule: "ban-drop-column", message: `${at} DROP COLUMN ${c.name}: deletes the column and its data` }];
        case "AT_AlterColumnType": {
            const type = c.def && "ColumnDef" in c.def ? typeName(c.def.ColumnDef.typeName) : "…";
            return [{ rule: "changing-column-type", message: `${at} ALTER COLUMN ${c.name} TYPE ${type}: may rewrite the table under an ACCESS EXCLUSIVE lock` }];
        }
        case "AT_SetNotNull":
            return isNew ? [] : [{ rule: "setting-not-nullable-field", message: `${at} ALTER COLUMN ${c.name} SET NOT NULL: scans the whole table under an ACCESS EXCLUSIVE lock` }];
        case "AT_AddColumn":
            return isNew || !c.def || !("ColumnDef" in c.def) ? [] : addColumnHits(c.def.ColumnDef, at);
        case "AT_AddConstraint":
            return isNew || !c.def || !("Constraint" in c.def) ? [] : addConstraintHits(c.def.Constraint, at);
        default:
            return [];
    }
}
function addColumnHits(col, at) {
    const kinds = new Set(constraints(col.constraints).map((k) => k.contype));
    const notNull = kinds.has("CONSTR_NOTNULL") || kinds.has("CONSTR_PRIMARY");
    // identity and generated columns fill existing rows just like a DEFAULT
    const filled = kinds.has("CONSTR_DEFAULT") || kinds.has("CONSTR_IDENTITY") || kinds.has("CONSTR_GENERATED");
    const hits = [];
    if (notNull && !filled)
        hits.push({ rule: "adding-not-nullable-field", message: `${at} ADD COLUMN ${col.colname} NOT NULL without DEFAULT: fails if the table has any rows` });
    // an inline REFERENCES cannot say NOT VALID: it is checked against every row at once
    const fk = constraints(col.constraints).find((k) => k.contype === "CONSTR_FOREIGN");
    if (fk)
        hits.push({ rule: "adding-foreign-key-constraint", message: `${at} ADD COLUMN ${col.colname} REFERENCES ${relName(fk.pktable)}: validates every row while blocking writes to both tables` });
    return hits;
}
function addConstraintHits(k, at) {
    if (k.skip_validation)
        return []; // NOT VALID
    const name = k.conname ? `ADD CONSTRAINT ${k.conname}` : "ADD";
    if (k.contype === "CONSTR_FOREIGN") {
        return [{ rule: "adding-foreign-key-constraint", message: `${at} ${name} FOREIGN KEY REFERENCES ${relName(k.pktable)} without NOT VALID: validates every row while blocking writes to both tables` }];
    }
    if (k.contype === "CONSTR_CHECK") {
        return [{ rule: "constraint-missing-not-valid", message: `${at} ${name} CHECK without NOT VALID: scans the whole table under an ACCESS EXCLUSIVE lock` }];
    }
    return [];
}
function dropHits(s, st) {
    const names = dropNames(s);
    switch (s.removeType) {
        case "OBJECT_TABLE":
            return names.map((n) => ({ rule: "ban-drop-table", message: `DROP TABLE ${n}: deletes the table and every row in it` }));
        case "OBJECT_SCHEMA":
            return names.map((n) => ({ rule: "ban-drop-schema", message: `DROP SCHEMA ${n}: deletes the schema and everything in it` }));
        case "OBJECT_INDEX":
            return names.flatMap((n) => indexHits(`DROP INDEX`, n, s.concurrent === true, st));
        default:
            return [];
    }
}
function createIndexHits(s, st) {
    const what = `${s.idxname ? `${s.idxname} ` : ""}ON ${relName(s.relation)}`;
    if (s.concurrent || !isCreated(s.relation, st))
        return indexHits("CREATE INDEX", what, s.concurrent === true, st);
    return []; // a new, empty table: a plain CREATE INDEX is instant
}
function indexHits(verb, what, concurrent, st) {
    if (concurrent) {
        if (st.noTransaction && !st.inBlock)
            return [];
        return [{ rule: "concurrently-in-transaction", message: `${verb} CONCURRENTLY ${what} inside a transaction: PostgreSQL refuses to run it` }];
    }
    if (verb === "CREATE INDEX")
        return [{ rule: "require-concurrent-index-creation", message: `CREATE INDEX ${what} without CONCURRENTLY: blocks writes to the table while it builds` }];
    return [{ rule: "require-concurrent-index-deletion", message: `DROP INDEX ${what} without CONCURRENTLY: takes an ACCESS EXCLUSIVE lock on its table` }];
}
function renameHits(s) {
    const table = relName(s.relation);
    if (s.renameType === "OBJECT_TABLE")
        return [{ rule: "renaming-table", message: `ALTER TABLE ${table} RENAME TO ${s.newname}: code still using ${table} breaks` }];
    if (s.renameType === "OBJECT_COLUMN" && s.relationType === "OBJECT_TABLE") {
        return [{ rule: "renaming-column", message: `ALTER TABLE ${table} RENAME COLUMN ${s.subname} TO ${s.newname}: code still using ${s.subname} breaks` }];
    }
    return [];
}
/** the statement, named, when it takes an ACCESS EXCLUSIVE lock on a table that existed before this file */
function exclusiveLockOn(node, st) {
    const old = (r) => r !== undefined && !isCreated(r, st);
    if ("AlterTableStmt" in node) {
        const s = node.AlterTableStmt;
        return s.objtype === "OBJECT_TABLE" && old(s.relation) ? `ALTER TABLE ${relName(s.relation)}` : undefined;
    }
    if ("TruncateStmt" in node)
        return rangeVars(node.TruncateStmt).some(old) ? `TRUNCATE ${rangeVars(node.TruncateStmt).map(relName).join(", ")}` : undefined;
    if ("RenameStmt" in node) {
        const s = node.RenameStmt;
        const onTable = s.renameType === "OBJECT_TABLE" || s.renameType === "OBJECT_TABCONSTRAINT" || (s.renameType === "OBJECT_COLUMN" && s.relationType === "OBJECT_TABLE");
        return onTable && old(s.relation) ? `ALTER TABLE ${relName(s.relation)} RENAME` : undefined;
    }
    if ("DropStmt" in node) {
        const s = node.DropStmt;
        if (s.removeType === "OBJECT_TABLE" && dropRangeVars(s).some(old))
            return `DROP TABLE ${dropNames(s).join(", ")}`;
        if (s.removeType === "OBJECT_INDEX" && !s.concurrent)
            return `DROP INDEX ${dropNames(s).join(", ")}`;
    }
    return undefined;
}
/** records what later statements depend on: new tables, lock_timeout, explicit transaction blocks */
function track(node, st) {
    // IF NOT EXISTS may find an old, full table: only a plain CREATE TABLE is known to be new
    if ("CreateStmt" in node && node.CreateStmt.relation && !node.CreateStmt.if_not_exists)
        st.created.push(node.CreateStmt.relation);
    if ("VariableSetStmt" in node && node.VariableSetStmt.name === "lock_timeout")
        st.lockTimeout = setsTimeout(node.VariableSetStmt, st);
    if ("VariableSetStmt" in node && node.VariableSetStmt.kind === "VAR_RESET_ALL")
        st.lockTimeout = false;
    if ("TransactionStmt" in node) {
        const k = node.TransactionStmt.kind;
        if (k === "TRANS_STMT_BEGIN" || k === "TRANS_STMT_START")
            st.inBlock = true;
        if (k === "TRANS_STMT_COMMIT" || k === "TRANS_STMT_ROLLBACK" || k === "TRANS_STMT_PREPARE")
            st.inBlock = false;
    }
}
function setsTimeout(s, st) {
    if (s.kind !== "VAR_SET_VALUE")
        return false; // RESET / SET … TO DEFAULT: back to the server's (usually none)
    // SET LOCAL outside a transaction lasts for nothing
    if (s.is_local && st.noTransaction && !st.inBlock)
        return false;
    const arg = s.args?.[0];
    const c = arg && "A_Const" in arg ? arg.A_Const : undefined;
    // 0 disables the timeout; protobuf JSON omits zero, so `ival: {}` is 0
    const zero = c !== undefined && ((c.ival !== undefined && !c.ival.ival) || c.sval?.sval?.trim() === "0");
    return !zero;
}
// ---- AST helpers -----------------------------------------------------------------------------
function relName(r) {
    if (!r?.relname)
        return "?";
    return r.schemaname ? `${r.schemaname}.${r.relname}` : r.relname;
}
/** the same table, treating an unqualified name as matching any schema (search_path is unknown) */
function isCreated(r, st) {
    return r !== undefined && st.created.some((c) => c.relname === r.relname && (!c.schemaname || !r.schemaname || c.schemaname === r.schemaname));
}
function rangeVars(s) {
    return (s.relations ?? []).flatMap((n) => ("RangeVar" in n ? [n.RangeVar] : []));
}
function constraints(nodes) {
    return (nodes ?? []).flatMap((n) => ("Constraint" in n ? [n.Constraint] : []));
}
function strings(nodes) {
    return (nodes ?? []).flatMap((n) => ("String" in n && n.String.sval !== undefined ? [n.String.sval] : []));
}
/** DROP's objects: a List of name parts for relations, a bare String for a schema */
function dropParts(s) {
    return (s.objects ?? []).map((n) => ("List" in n ? strings(n.List.items) : strings([n])));
}
function dropNames(s) {
    return dropParts(s).map((p) => p.join("."));
}
function dropRangeVars(s) {
    return dropParts(s).map((p) => ({ relname: p.at(-1), schemaname: p.length > 1 ? p.at(-2) : undefined }));
}
function typeName(t) {
    const names = strings(t?.names);
    return (names[0] === "pg_catalog" ? names.slice(1) : names).join(".") || "…";
}
// ---- positions and comments ------------------------------------------------------------------
const ALLOW = /--\s*slipway:allow\s+([a-z-]+)(?:\s+(.*?))?\s*$/;
/**
 * The file's text as libpg-query sees it: statement locations are UTF-8 byte offsets, while a
 * syntax error's cursor counts characters (code points).
 */
class Source {
    sql;
    bytes;
    lineStarts = [0]; // byte offset of each line
    lines;
    constructor(sql) {
        this.sql = sql;
        this.bytes = Buffer.from(sql, "utf8");
        this.bytes.forEach((b, i) => {
            if (b === 0x0a)
                this.lineStarts.push(i + 1);
        });
        this.lines = sql.split("\n");
    }
    byteOfCodePoint(n) {
        return Buffer.byteLength(Array.from(this.sql).slice(0, n).join(""), "utf8");
    }
    /** 1-based line and column (in characters) of a byte offset */
    position(byte) {
        let lo = 0;
        let hi = this.lineStarts.length - 1;
        while (lo < hi) {
            const mid = (lo + hi + 1) >> 1;
            if (this.lineStarts[mid] <= byte)
                lo = mid;
            else
                hi = mid - 1;
        }
        const prefix = this.bytes.subarray(this.lineStarts[lo], byte).toString("utf8");
        return { line: lo + 1, col: Array.from(prefix).length + 1 };
    }
    /** stmt_location points just past the previous `;`: skip the whitespace and comments before the statement */
    statementStart(byte) {
        const b = this.bytes;
        let i = byte;
        for (;;) {
            while (i < b.length && isSpace(b[i]))
                i++;
            if (b[i] === 0x2d && b[i + 1] === 0x2d) {
                while (i < b.length && b[i] !== 0x0a)
                    i++;
            }
            else if (b[i] === 0x2f && b[i + 1] === 0x2a) {
                i = blockCommentEnd(b, i);
            }
            else {
                return i;
            }
        }
    }
    /** `-- slipway:allow` comments on the comment lines directly above `line` or at its end: rule → reason ("" when missing) */
    allowsAbove(line) {
        const allows = new Map();
        const add = (text) => {
            const m = ALLOW.exec(text);
            if (m && !allows.has(m[1]))
                allows.set(m[1], m[2] ?? "");
        };
        add(this.lines[line - 1] ?? "");
        for (let i = line - 2; i >= 0 && /^\s*--/.test(this.lines[i]); i--)
            add(this.lines[i]);
        return allows;
    }
}
function isSpace(b) {
    return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0c || b === 0x0b;
}
/** PostgreSQL's block comments nest */
function blockCommentEnd(b, start) {
    let depth = 0;
    let i = start;
    while (i < b.length) {
        if (b[i] === 0x2f && b[i + 1] === 0x2a) {
            depth++;
            i += 2;
        }
        else if (b[i] === 0x2a && b[i + 1] === 0x2f) {
            depth--;
            i += 2;
            if (depth === 0)
                return i;
        }
        else {
            i++;
        }
    }
    return i;
}


/***/ })

};

import "../../remote/esm-shim.js";
import { runAction } from "../run-action.js";
import { backupBody } from "../database.js";

await runAction("backup-db", backupBody);

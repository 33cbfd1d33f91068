import "../../remote/esm-shim.js";
import { runAction } from "../run-action.js";
import { migrateBody } from "../database.js";

await runAction("apply-migrations", migrateBody);

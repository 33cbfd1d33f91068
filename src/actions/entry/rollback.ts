import "../../remote/esm-shim.js";
import { rollbackBody } from "../rollback.js";
import { runAction } from "../run-action.js";

await runAction("rollback", rollbackBody);

import "../../remote/esm-shim.js";
import { verifyHealthBody } from "../health.js";
import { runAction } from "../run-action.js";

await runAction("verify-health", verifyHealthBody);

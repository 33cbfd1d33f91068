import "../../remote/esm-shim.js";
import { driftBody } from "../drift.js";
import { runAction } from "../run-action.js";

await runAction("drift", driftBody);

import "../../remote/esm-shim.js";
import { planBody } from "../plan.js";
import { runAction } from "../run-action.js";

await runAction("plan", planBody);

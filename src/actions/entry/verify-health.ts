import "../../remote/esm-shim.js";
import { notImplemented, runAction } from "../run-action.js";

await runAction("verify-health", notImplemented(7));

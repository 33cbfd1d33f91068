import "../../remote/esm-shim.js";
import { notImplemented, runAction } from "../run-action.js";

await runAction("apply-migrations", notImplemented(4));

import "../../remote/esm-shim.js";
import { notImplemented, runAction } from "../run-action.js";

await runAction("deploy-compose", notImplemented(6));

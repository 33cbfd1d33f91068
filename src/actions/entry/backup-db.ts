import "../../remote/esm-shim.js";
import { notImplemented, runAction } from "../run-action.js";

await runAction("backup-db", notImplemented(4));

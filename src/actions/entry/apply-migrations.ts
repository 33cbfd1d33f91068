import "./shim.js";
import { notImplemented, runAction } from "../run-action.js";

await runAction("apply-migrations", notImplemented(4));

import "../../remote/esm-shim.js";
import { deploySystemdBody } from "../deploy.js";
import { runAction } from "../run-action.js";

await runAction("deploy-systemd", deploySystemdBody);

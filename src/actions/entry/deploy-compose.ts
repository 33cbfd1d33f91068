import "../../remote/esm-shim.js";
import { deployComposeBody } from "../deploy.js";
import { runAction } from "../run-action.js";

await runAction("deploy-compose", deployComposeBody);

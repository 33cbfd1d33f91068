import "../../remote/esm-shim.js";
import { deploySupervisorBody } from "../deploy.js";
import { runAction } from "../run-action.js";

await runAction("deploy-supervisor", deploySupervisorBody);

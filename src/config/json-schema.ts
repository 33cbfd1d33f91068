// environments/schema.json for editors (yaml-language-server), emitted from the zod schema, and the
// stable address it is published at (the npm package ships the file too).
import * as z from "zod";
import packageJson from "../../package.json" with { type: "json" };
import { environmentSchema } from "./schema.js";

/**
 * The GitHub owner of slipway's repository: a placeholder until it is published. It is the only
 * place the owner is written: the schema URL and `slipway init`'s default --actions-ref use it.
 */
export const SLIPWAY_OWNER = "OWNER";

/** The package's major version: the `vX` tag the release script moves, so one URL serves a major. */
export const slipwayMajor = packageJson.version.split(".")[0]!;

/** Where editors fetch the schema: the file at the major tag, which only compatible releases move. */
export const schemaUrl = `https://raw.githubusercontent.com/${SLIPWAY_OWNER}/slipway/v${slipwayMajor}/environments/schema.json`;

export const schemaFile = "environments/schema.json";

export function environmentJsonSchema(): string {
  const schema = z.toJSONSchema(environmentSchema, { io: "input", unrepresentable: "any" });
  return JSON.stringify({ ...schema, title: "slipway environment file", $id: schemaUrl }, null, 2) + "\n";
}

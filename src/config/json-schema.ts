// environments/schema.json for editors (yaml-language-server), emitted from the zod schema.
import * as z from "zod";
import { environmentSchema } from "./schema.js";

export function environmentJsonSchema(): string {
  const schema = z.toJSONSchema(environmentSchema, { io: "input", unrepresentable: "any" });
  return JSON.stringify({ ...schema, title: "slipway environment file", $id: "https://slipway.dev/schema/environment.json" }, null, 2) + "\n";
}

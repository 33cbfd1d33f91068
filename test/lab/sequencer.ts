// The order in which vitest hands test files to its workers: as vitest orders them, except that the
// lab files holding the whole lab (holdHosts("*"), test/lab/host-locks.ts) come last, so that they
// do not take workers at the start and hold up every file that could run side by side on its hosts.
import { readFileSync } from "node:fs";
import { BaseSequencer, type TestSpecification } from "vitest/node";

const holdsWholeLab = (f: TestSpecification) => f.project.name === "lab" && /^holdHosts\("\*"\);$/m.test(readFileSync(f.moduleId, "utf8"));

export default class LabSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return [...sorted.filter((f) => !holdsWholeLab(f)), ...sorted.filter(holdsWholeLab)];
  }
}

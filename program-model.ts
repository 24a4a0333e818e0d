// The stack model the program runs on: the config, validated (config/), and the checks that need
// the cluster's own rendering, which config/ may not import (the worker user data size). Used by
// index.ts and by the offline plan, so both refuse the same things before any resource.
import { workerUserDataProblems } from "./cluster/user-data-size";
import { ConfigValidationError, loadStackConfig, RawStackConfig } from "./config";
import type { StackModel } from "./model";

export function loadProgramModel(raw: RawStackConfig): StackModel {
    const model = loadStackConfig(raw);
    const sizeProblems = workerUserDataProblems(model);
    if (sizeProblems.length > 0) {
        throw new ConfigValidationError(sizeProblems);
    }
    return model;
}

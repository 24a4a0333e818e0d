// Shapes of the doctor: one check per assumption the program makes about the cloud or per thing
// the stack needs, and the row each check answers with.
import type { StackModel } from "../model";
import type { DoctorCloud } from "./cloud";
import type { DeepProbeResult } from "./deep";

/** `holds`: checked and true. `fails`: checked and false. `cannot-tell`: not checkable this way. */
export type CheckStatus = "holds" | "fails" | "cannot-tell";

/** What one check found. */
export interface CheckOutcome {
    status: CheckStatus;
    /** The evidence, in one sentence (ids, codes, counts). */
    detail: string;
    /** What the program does on this cloud because of it (which path it takes). */
    programAction: string;
}

/** One row of the doctor's answer. */
export interface DoctorRow extends CheckOutcome {
    id: string;
    assumption: string;
    /** The config key that changes what the program does about it ("-" when none). */
    configKey: string;
    /** A failure of a needed check makes the doctor exit non-zero. */
    needed: boolean;
    /** Where the README / docs explain the assumption. */
    docs: string;
}

/** Everything a check may read: the stack model, the cloud, what --deep saw, the environment. */
export interface CheckContext {
    stack: StackModel;
    cloud: DoctorCloud;
    /** Undefined without --deep. */
    deep?: DeepProbeResult;
    env: NodeJS.ProcessEnv;
}

export interface DoctorCheck {
    id: string;
    assumption: string;
    configKey: string;
    docs: string;
    /** Whether this stack needs it to hold (may depend on the stack's settings). */
    needed(stack: StackModel): boolean;
    /** Checks that need no call answer at once. */
    run(context: CheckContext): CheckOutcome | Promise<CheckOutcome>;
}

// Command-line reading shared by the stack commands (cleanup, doctor): one argument cursor and
// the flags that name a stack and its cloud, so each command lists only its own flags.
import type { Clock } from "../cleanup/types";
import { Override, parseOverride } from "./stack-config";

/** A bad command line: the command prints the message and its usage, and exits 2. */
export class UsageError extends Error {}

/** A command's answer to a bad command line: the message and the usage on `err`, exit 2. Anything else is thrown on. */
export function usageFailure(error: unknown, err: (line: string) => void, usage: string): 2 {
    if (!(error instanceof UsageError)) {
        throw error;
    }
    err(`error: ${error.message}`);
    err(usage);
    return 2;
}

/** Walks the arguments; `value()` takes the next one as the current flag's value. */
export class ArgCursor {
    private index = -1;

    constructor(private readonly argv: string[]) {}

    /** The next argument, or undefined after the last. */
    nextArg(): string | undefined {
        this.index += 1;
        return this.argv[this.index];
    }

    value(flag: string): string {
        this.index += 1;
        const value = this.argv[this.index];
        if (value === undefined) {
            throw new UsageError(`${flag} needs a value`);
        }
        return value;
    }
}

/** Which stack and cloud a command works on. */
export interface StackTarget {
    stack?: string;
    overrides: Override[];
    endpointUrl?: string;
}

/** --stack/-s, --config/-c key=value, --endpoint-url: true when `arg` was one of them (and was read). */
export function readStackTargetFlag(arg: string, cursor: ArgCursor, target: StackTarget): boolean {
    switch (arg) {
        case "--stack":
        case "-s":
            target.stack = cursor.value(arg);
            return true;
        case "--config":
        case "-c":
            try {
                target.overrides.push(parseOverride(cursor.value(arg), false));
            } catch (error) {
                if (error instanceof UsageError) {
                    throw error;
                }
                throw new UsageError(`--config: ${(error as Error).message}`, { cause: error });
            }
            return true;
        case "--endpoint-url":
            target.endpointUrl = cursor.value(arg);
            return true;
        default:
            return false;
    }
}

/** What a stack command reads and writes besides the cloud; tests pass their own. */
export interface CommandIo {
    env: NodeJS.ProcessEnv;
    clock: Clock;
    /** The answer. */
    out: (line: string) => void;
    /** Progress and errors. */
    err: (line: string) => void;
    /** Stack files' folder (tests). */
    root?: string;
}

// The recorded doctor result (`doctor.<stack>.json`, written by `npm run doctor -- --record`
// beside Pulumi.<stack>.yaml): validated here and turned into the model's CloudFactsModel, so
// that what a cloud was found to accept chooses the program's path instead of a README note.
// Like the rest of config/, this module reads no file: index.ts hands it the text.
import { z } from "zod";
import type { CloudFactsModel, StackModel } from "../model";
import { ConfigValidationError } from "./index";
import { PROJECT_NAME } from "./schema";

export const DOCTOR_RECORD_FORMAT = 1;

/** `doctor.<stack>.json`: where the doctor writes its record and the program looks for it. */
export function doctorRecordFileName(stack: string): string {
    return `doctor.${stack}.json`;
}

const status = z.enum(["holds", "fails", "cannot-tell"]);

export const doctorRecordSchema = z
    .object({
        format: z.literal(DOCTOR_RECORD_FORMAT),
        stack: z.string().min(1),
        endpoint: z.string().min(1),
        checkedAt: z.iso.datetime(),
        deep: z.boolean(),
        checks: z.record(z.string(), status),
    })
    .strict();

export type DoctorRecord = z.output<typeof doctorRecordSchema>;

const asFact = (value: z.output<typeof status> | undefined): boolean | undefined => (value === "holds" ? true : value === "fails" ? false : undefined);

/** Validates the record's text; every problem names the file, the field and the fix. */
export function parseDoctorRecord(text: string, file: string, stack: string): DoctorRecord {
    const fix = `Fix: run \`npm run doctor -- --stack ${stack} --record\` again, or delete ${file}`;
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch (error) {
        throw new ConfigValidationError([`${file}: not JSON (${error instanceof Error ? error.message : String(error)}). ${fix}`]);
    }
    const result = doctorRecordSchema.safeParse(json);
    if (!result.success) {
        throw new ConfigValidationError(result.error.issues.map((issue) => `${file}: ${issue.path.join(".") || "(top level)"}: ${issue.message}. ${fix}`));
    }
    if (result.data.stack !== stack) {
        throw new ConfigValidationError([`${file}: recorded for stack "${result.data.stack}", not "${stack}". ${fix}`]);
    }
    return result.data;
}

/** The facts the program uses, from a valid record. */
export function cloudFactsOf(record: DoctorRecord, file: string): CloudFactsModel {
    return {
        source: file,
        checkedAt: record.checkedAt,
        metadataOptionsAccepted: asFact(record.checks["metadata-options"]),
        metadataInstanceIdMatches: asFact(record.checks["metadata-instance-id"]),
        consoleHostKeys: asFact(record.checks["ssh-host-keys-console"]),
    };
}

/** Settings the recorded cloud cannot take. */
export function cloudFactProblems(stack: StackModel, facts: CloudFactsModel): string[] {
    const problems: string[] = [];
    if (stack.hardening.requireMetadataTokens && facts.metadataOptionsAccepted === false) {
        problems.push(
            `${PROJECT_NAME}:requireMetadataTokens: true, but ${facts.source} (${facts.checkedAt}) records that this cloud refuses metadataOptions, ` +
                "so every instance would fail to start. Fix: pulumi config set requireMetadataTokens false (or re-run the doctor if the cloud changed)",
        );
    }
    if (stack.cluster.sshHostKeys === "console" && facts.consoleHostKeys === false) {
        problems.push(
            `${PROJECT_NAME}:sshHostKeys: "console", but ${facts.source} (${facts.checkedAt}) records that this cloud's console output shows no SSH host keys, ` +
                "so every host-key step would wait for its deadline and fail. Fix: pulumi config set sshHostKeys unpinned (on a production stack also accept the rule ssh-host-keys-unpinned), " +
                "or re-run the doctor with --deep if the cloud or the image changed",
        );
    }
    return problems;
}

/**
 * The model with the recorded facts, or the model unchanged when the stack has no record.
 * Throws ConfigValidationError for a bad record or a setting the recorded cloud refuses.
 */
export function withCloudFacts(stack: StackModel, recordText: string | undefined, file: string): StackModel {
    if (recordText === undefined) {
        return stack;
    }
    const facts = cloudFactsOf(parseDoctorRecord(recordText, file, stack.stack), file);
    const problems = cloudFactProblems(stack, facts);
    if (problems.length > 0) {
        throw new ConfigValidationError(problems);
    }
    return { ...stack, cloud: { ...stack.cloud, facts } };
}

/** How the control-plane retire step will go on this cloud (for the program's log). */
export function retirePathOf(facts: CloudFactsModel | undefined): string {
    if (facts?.metadataInstanceIdMatches === true) {
        return "replaced control-plane nodes retire early (the metadata instance-id matches the API's, per the doctor record)";
    }
    if (facts?.metadataInstanceIdMatches === false) {
        return "replaced control-plane nodes leave at the end of the update (the metadata instance-id differs from the API's, per the doctor record)";
    }
    return "no doctor record of the metadata instance-id: each retire step decides per node";
}

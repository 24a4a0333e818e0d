// Writes the doctor's answers beside the stack file (doctor.<stack>.json), in the format
// config/cloud-facts.ts validates, so that the next `pulumi up` takes the path this cloud allows.
import * as fs from "node:fs";
import * as path from "node:path";
import { DOCTOR_RECORD_FORMAT, DoctorRecord, doctorRecordFileName, doctorRecordSchema } from "../config/cloud-facts";
import type { DoctorRow } from "../doctor/types";

export function doctorRecord(stack: string, endpoint: string, deep: boolean, rows: DoctorRow[], now: Date): DoctorRecord {
    return doctorRecordSchema.parse({
        format: DOCTOR_RECORD_FORMAT,
        stack,
        endpoint,
        checkedAt: now.toISOString(),
        deep,
        checks: Object.fromEntries(rows.map((r) => [r.id, r.status])),
    });
}

/** Returns the file written. */
export function writeDoctorRecord(root: string, record: DoctorRecord): string {
    const file = path.join(root, doctorRecordFileName(record.stack));
    fs.writeFileSync(file, JSON.stringify(record, null, 2) + "\n");
    return file;
}

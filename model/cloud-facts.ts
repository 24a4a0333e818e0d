// What `npm run doctor -- --record` found out about the cloud, as the program uses it. Each
// field is undefined when the doctor could not tell (or no record exists).

export interface CloudFactsModel {
    /** The record's file name, for messages. */
    source: string;
    checkedAt: string;
    /** RunInstances accepts metadataOptions (doctor row `metadata-options`). */
    metadataOptionsAccepted?: boolean;
    /** The metadata's instance-id is the API's id (row `metadata-instance-id`). */
    metadataInstanceIdMatches?: boolean;
    /** GetConsoleOutput shows an instance's SSH host keys (row `ssh-host-keys-console`). */
    consoleHostKeys?: boolean;
}

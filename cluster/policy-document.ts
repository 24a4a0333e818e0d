// The shape of an IAM policy document, apart from the policies themselves so that the scoping
// rules (iam-scoping.ts) and the role policies (iam.ts) can both use it without a circle.

export interface PolicyStatement {
    Sid?: string;
    Effect: string;
    Action: string | string[];
    /** Absent only in trust policies. */
    Resource?: string | string[];
    Condition?: Record<string, Record<string, unknown>>;
    Principal?: Record<string, string>;
}

export interface PolicyDocument {
    Version: string;
    Statement: PolicyStatement[];
}

// Credentials of their own for a controller that cannot run with host network, so that pods
// never need the instance metadata service (the metadata guard drops pod traffic to it). The
// EBS CSI controller is one: its chart has no host-network switch for the controller. It gets
// an IAM user holding only its upstream policy (the same document the node role carried for
// it) and an access key, a secret output; the add-ons put the key into the Secret the chart
// reads (kube-system/aws-secret).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { PolicyDocument } from "./iam";

export interface ControllerCredentialsArgs {
    environment: string;
    /** Short name, e.g. "ebs-csi": names the user `<env>-<controller>-<suffix>`. */
    controller: string;
    policy: PolicyDocument;
    nameSuffix: pulumi.Input<string>;
    provider: pulumi.ProviderResource;
    parent: pulumi.Resource;
}

export interface AccessKeyPair {
    accessKeyId: pulumi.Output<string>;
    secretAccessKey: pulumi.Output<string>;
}

export class ControllerCredentials implements AccessKeyPair {
    readonly accessKeyId: pulumi.Output<string>;
    readonly secretAccessKey: pulumi.Output<string>;
    readonly resources: pulumi.Resource[];

    constructor(args: ControllerCredentialsArgs) {
        const opts: pulumi.CustomResourceOptions = { provider: args.provider, parent: args.parent };
        const name = `${args.environment}-${args.controller}`;
        // No tags: zCompute does not support tags on IAM resources.
        const user = new aws.iam.User(name, { name: pulumi.interpolate`${name}-${args.nameSuffix}`, path: "/zadara-eksd/" }, opts);
        const policy = new aws.iam.UserPolicy(name, { user: user.name, policy: JSON.stringify(args.policy) }, opts);
        const key = new aws.iam.AccessKey(`${name}-key`, { user: user.name }, { ...opts, additionalSecretOutputs: ["secret"] });
        this.accessKeyId = pulumi.secret(key.id);
        this.secretAccessKey = pulumi.secret(key.secret);
        this.resources = [user, policy, key];
    }
}

// The AWS provider pointed at a zCompute cloud. zCompute speaks the AWS APIs under
// /api/v2/aws/<service>, always in region us-east-1, often behind a self-signed certificate.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { ZCOMPUTE_REGION } from "../model/constants";
import { zcomputeServiceUrl } from "./service-url";

export { ZCOMPUTE_REGION };

export interface ZComputeProviderArgs {
    /** Normalised base URL of the cloud, e.g. `https://cloud.example.com`. */
    apiUrl: string;
    /** Falls back to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY when undefined. */
    accessKey?: pulumi.Input<string>;
    secretKey?: pulumi.Input<string>;
    /** Skip TLS verification (self-signed cloud and no CA bundle). */
    insecure: boolean;
}

export { zcomputeServiceUrl };

/** The AWS endpoints a zCompute cloud serves, keyed as the provider's `endpoints` block. */
export function zcomputeEndpoints(apiUrl: string): Record<string, string> {
    const service = (name: string) => zcomputeServiceUrl(apiUrl, name);
    return {
        ec2: service("ec2"),
        autoscaling: service("autoscaling"),
        // The provider (TF AWS 3.44) has one `elb` endpoint for both ELB and ELBv2 calls;
        // zCompute serves both under /elbv2.
        elb: service("elbv2"),
        iam: service("iam"),
        sts: service("sts"),
        // Object storage (NGOS) listens on its own port.
        s3: `${apiUrl.replace(/:\d+$/, "")}:1061`,
    };
}

export function createZComputeProvider(name: string, args: ZComputeProviderArgs, opts?: pulumi.ResourceOptions): aws.Provider {
    return new aws.Provider(
        name,
        {
            region: ZCOMPUTE_REGION,
            accessKey: args.accessKey,
            secretKey: args.secretKey,
            insecure: args.insecure,
            endpoints: [zcomputeEndpoints(args.apiUrl)],
            // zCompute has no account-id, metadata or region-list APIs the checks would call.
            skipCredentialsValidation: true,
            skipRegionValidation: true,
            skipRequestingAccountId: true,
            skipMetadataApiCheck: true,
            skipGetEc2Platforms: true,
            s3ForcePathStyle: true,
            // No defaultTags: they make RunInstances send a volume TagSpecification that zCompute rejects.
        },
        opts,
    );
}

// The doctor's view of the cloud: AWS SDK v3 clients pointed at zCompute's endpoints the same
// way as the destroy cleanup (cleanup/cloud.ts: same connection, TLS options and region), plus
// the services the cleanup does not call (autoscaling, sts). Load balancer listings reuse the
// cleanup's CloudApi, so the doctor checks exactly the calls the cleanup makes.
import * as ASG from "@aws-sdk/client-auto-scaling";
import * as EC2 from "@aws-sdk/client-ec2";
import * as STS from "@aws-sdk/client-sts";
import { CloudApi, CloudConnection, ClassicElbInfo, LoadBalancerInfo, sdkClientConfig } from "../cleanup/cloud";
import { zcomputeServiceUrl } from "../infra/service-url";

/** A failed call reduced to its error code (`InvalidParameterValue`, ...) and message. */
export class DoctorCallError extends Error {
    constructor(
        readonly operation: string,
        readonly code: string,
        message: string,
    ) {
        super(`${operation}: ${code}: ${message}`);
    }
}

function asCallError(operation: string, error: unknown): DoctorCallError {
    if (error instanceof DoctorCallError) {
        return error;
    }
    const e = error as { name?: string; Code?: string; code?: string; message?: string };
    return new DoctorCallError(operation, e.Code ?? e.code ?? e.name ?? "Error", e.message ?? String(error));
}

/** The code of a failed call, or of the cleanup's CloudCallError. */
export function errorCode(error: unknown): string {
    const e = error as { code?: string; name?: string };
    return e.code ?? e.name ?? "Error";
}

export interface InstanceInfo {
    id: string;
    state: string;
    privateDnsName: string;
    privateIp: string;
    tags: Record<string, string>;
}

export interface ImageInfo {
    id: string;
    name: string;
    tags: Record<string, string>;
}

export interface AsgInstanceInfo {
    instanceId: string;
    group: string;
    launchConfigurationName?: string;
}

const tagRecord = (tags: Array<{ Key?: string; Value?: string }> | undefined): Record<string, string> =>
    Object.fromEntries((tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key ?? "", t.Value ?? ""]));

export class DoctorCloud {
    /** Calls made, by operation, for the report. */
    readonly calls = new Map<string, number>();
    readonly ec2: EC2.EC2Client;
    private readonly asg: ASG.AutoScalingClient;
    private readonly sts: STS.STSClient;
    private readonly elb: CloudApi;

    constructor(readonly connection: CloudConnection) {
        const common = sdkClientConfig(connection);
        this.ec2 = new EC2.EC2Client({ ...common, endpoint: zcomputeServiceUrl(connection.baseUrl, "ec2") });
        this.asg = new ASG.AutoScalingClient({ ...common, endpoint: zcomputeServiceUrl(connection.baseUrl, "autoscaling") });
        this.sts = new STS.STSClient({ ...common, endpoint: zcomputeServiceUrl(connection.baseUrl, "sts") });
        this.elb = new CloudApi(connection);
    }

    destroy(): void {
        this.ec2.destroy();
        this.asg.destroy();
        this.sts.destroy();
        this.elb.destroy();
    }

    /** One counted call; every failure becomes a DoctorCallError with the operation's name. */
    async call<T>(operation: string, run: () => Promise<T>): Promise<T> {
        this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
        try {
            return await run();
        } catch (error) {
            throw asCallError(operation, error);
        }
    }

    async callerIdentity(): Promise<{ account: string; arn: string }> {
        const out = await this.call("sts:GetCallerIdentity", () => this.sts.send(new STS.GetCallerIdentityCommand({})));
        return { account: out.Account ?? "", arn: out.Arn ?? "" };
    }

    /** DescribeInstances with the filters the control-plane retire step uses. */
    async instancesByIdFilter(ids: string[], states: string[]): Promise<InstanceInfo[]> {
        const out = await this.call("ec2:DescribeInstances", () =>
            this.ec2.send(
                new EC2.DescribeInstancesCommand({
                    Filters: [
                        { Name: "instance-id", Values: ids },
                        { Name: "instance-state-name", Values: states },
                    ],
                }),
            ),
        );
        return instancesOf(out);
    }

    async instances(): Promise<InstanceInfo[]> {
        return instancesOf(await this.call("ec2:DescribeInstances", () => this.ec2.send(new EC2.DescribeInstancesCommand({}))));
    }

    /** The instance's console output, decoded (GetConsoleOutput answers base64); "" when it has none. */
    async consoleOutput(id: string): Promise<string> {
        const out = await this.call("ec2:GetConsoleOutput", () => this.ec2.send(new EC2.GetConsoleOutputCommand({ InstanceId: id })));
        return Buffer.from(out.Output ?? "", "base64").toString("utf8");
    }

    async instance(id: string): Promise<InstanceInfo | undefined> {
        const out = await this.call("ec2:DescribeInstances", () => this.ec2.send(new EC2.DescribeInstancesCommand({ InstanceIds: [id] })));
        return instancesOf(out)[0];
    }

    async networkInterfaceIdsByDescription(description: string): Promise<string[]> {
        const out = await this.call("ec2:DescribeNetworkInterfaces", () =>
            this.ec2.send(new EC2.DescribeNetworkInterfacesCommand({ Filters: [{ Name: "description", Values: [description] }] })),
        );
        return (out.NetworkInterfaces ?? []).filter((n) => n.Description === description).map((n) => n.NetworkInterfaceId ?? "?");
    }

    async loadBalancers(): Promise<LoadBalancerInfo[]> {
        return this.call("elbv2:DescribeLoadBalancers", () => this.elb.loadBalancers());
    }

    async classicElbs(): Promise<ClassicElbInfo[]> {
        return this.call("elb:DescribeLoadBalancers", () => this.elb.classicElbs());
    }

    async asgInstances(): Promise<AsgInstanceInfo[]> {
        const out = await this.call("autoscaling:DescribeAutoScalingInstances", () =>
            this.asg.send(new ASG.DescribeAutoScalingInstancesCommand({ MaxRecords: 50 })),
        );
        return (out.AutoScalingInstances ?? []).map((i) => ({
            instanceId: i.InstanceId ?? "?",
            group: i.AutoScalingGroupName ?? "?",
            launchConfigurationName: i.LaunchConfigurationName,
        }));
    }

    /** The image, or undefined when the cloud says it does not exist. */
    async image(id: string): Promise<ImageInfo | undefined> {
        try {
            const out = await this.call("ec2:DescribeImages", () => this.ec2.send(new EC2.DescribeImagesCommand({ ImageIds: [id] })));
            const image = (out.Images ?? []).find((i) => i.ImageId === id);
            return image ? { id, name: image.Name ?? "", tags: tagRecord(image.Tags) } : undefined;
        } catch (error) {
            if (/NotFound|Malformed/.test(errorCode(error))) {
                return undefined;
            }
            throw error;
        }
    }

    async keyPairExists(name: string): Promise<boolean> {
        try {
            const out = await this.call("ec2:DescribeKeyPairs", () => this.ec2.send(new EC2.DescribeKeyPairsCommand({ KeyNames: [name] })));
            return (out.KeyPairs ?? []).some((k) => k.KeyName === name);
        } catch (error) {
            if (/NotFound/.test(errorCode(error))) {
                return false;
            }
            throw error;
        }
    }

    /** The instance types the cloud lists (unknown names are left out or refused, depending on the API). */
    async knownInstanceTypes(types: string[]): Promise<Set<string>> {
        const known = new Set<string>();
        for (const type of types) {
            try {
                const out = await this.call("ec2:DescribeInstanceTypes", () =>
                    this.ec2.send(new EC2.DescribeInstanceTypesCommand({ InstanceTypes: [type as EC2._InstanceType] })),
                );
                for (const t of out.InstanceTypes ?? []) {
                    known.add(String(t.InstanceType));
                }
            } catch (error) {
                if (!/InvalidInstanceType|InvalidParameterValue/.test(errorCode(error))) {
                    throw error;
                }
            }
        }
        return known;
    }

    async volumeTypesInUse(): Promise<Set<string>> {
        const out = await this.call("ec2:DescribeVolumes", () => this.ec2.send(new EC2.DescribeVolumesCommand({ MaxResults: 500 })));
        return new Set((out.Volumes ?? []).map((v) => String(v.VolumeType ?? "")).filter(Boolean));
    }

    /** `max-instances`, `vpc-max-elastic-ips`, ... as numbers (missing ones left out). */
    async accountLimits(): Promise<Record<string, number>> {
        const out = await this.call("ec2:DescribeAccountAttributes", () => this.ec2.send(new EC2.DescribeAccountAttributesCommand({})));
        const limits: Record<string, number> = {};
        for (const a of out.AccountAttributes ?? []) {
            const value = Number(a.AttributeValues?.[0]?.AttributeValue);
            if (a.AttributeName && Number.isFinite(value)) {
                limits[a.AttributeName] = value;
            }
        }
        return limits;
    }

    async addressCount(): Promise<number> {
        const out = await this.call("ec2:DescribeAddresses", () => this.ec2.send(new EC2.DescribeAddressesCommand({})));
        return (out.Addresses ?? []).length;
    }

    async vpcExists(id: string): Promise<boolean> {
        try {
            const out = await this.call("ec2:DescribeVpcs", () => this.ec2.send(new EC2.DescribeVpcsCommand({ VpcIds: [id] })));
            return (out.Vpcs ?? []).length > 0;
        } catch (error) {
            if (/NotFound|Malformed/.test(errorCode(error))) {
                return false;
            }
            throw error;
        }
    }

    /** Subnet id → its VPC and availability zone (unknown ids left out). */
    async subnets(ids: string[]): Promise<Map<string, { vpcId: string; zone: string }>> {
        const found = new Map<string, { vpcId: string; zone: string }>();
        for (const id of ids) {
            try {
                const out = await this.call("ec2:DescribeSubnets", () => this.ec2.send(new EC2.DescribeSubnetsCommand({ SubnetIds: [id] })));
                for (const s of out.Subnets ?? []) {
                    found.set(s.SubnetId ?? id, { vpcId: s.VpcId ?? "", zone: s.AvailabilityZone ?? "" });
                }
            } catch (error) {
                if (!/NotFound|Malformed/.test(errorCode(error))) {
                    throw error;
                }
            }
        }
        return found;
    }

    async firstSubnet(): Promise<{ id: string; vpcId: string } | undefined> {
        const out = await this.call("ec2:DescribeSubnets", () => this.ec2.send(new EC2.DescribeSubnetsCommand({})));
        const subnet = (out.Subnets ?? [])[0];
        return subnet?.SubnetId ? { id: subnet.SubnetId, vpcId: subnet.VpcId ?? "" } : undefined;
    }
}

function instancesOf(out: EC2.DescribeInstancesCommandOutput): InstanceInfo[] {
    return (out.Reservations ?? []).flatMap((r) =>
        (r.Instances ?? []).map((i) => ({
            id: i.InstanceId ?? "?",
            state: String(i.State?.Name ?? ""),
            privateDnsName: i.PrivateDnsName ?? "",
            privateIp: i.PrivateIpAddress ?? "",
            tags: tagRecord(i.Tags),
        })),
    );
}

// The cloud side through the AWS SDK v3, pointed at zCompute's AWS-compatible endpoints:
// `<base>/api/v2/aws/ec2` and `<base>/api/v2/aws/elbv2`, which serves the classic ELB API too.
// Every call is counted (for the report and the benchmark) and bounded by a per-call timeout.
import * as EC2 from "@aws-sdk/client-ec2";
import * as ELB from "@aws-sdk/client-elastic-load-balancing";
import * as ELBv2 from "@aws-sdk/client-elastic-load-balancing-v2";
import * as https from "node:https";
import { zcomputeServiceUrl } from "../infra/service-url";
import { tagMap, Tags } from "./tags";

export const ZCOMPUTE_REGION = "us-east-1";

/**
 * What every AWS SDK client of the command-line tools shares: zCompute's region, the keys, the
 * cloud's CA (or none, when insecure), and one SDK retry (the callers retry on their own
 * schedule; one retry covers a dropped connection).
 */
export function sdkClientConfig(connection: CloudConnection) {
    return {
        region: ZCOMPUTE_REGION,
        credentials: { accessKeyId: connection.accessKeyId, secretAccessKey: connection.secretAccessKey },
        maxAttempts: 2,
        requestHandler: {
            connectionTimeout: 10_000,
            httpsAgent: new https.Agent({ keepAlive: true, rejectUnauthorized: !connection.insecure, ca: connection.caCert }),
        },
    };
}

export interface CloudConnection {
    /** `https://cloud.example.com` (plain http allowed, for tests). */
    baseUrl: string;
    accessKeyId: string;
    secretAccessKey: string;
    /** Skip TLS verification (self-signed cloud). */
    insecure?: boolean;
    /** PEM of the cloud's root CA. */
    caCert?: string;
}

export interface LoadBalancerInfo {
    arn: string;
    name: string;
    type: string;
    state?: string;
    securityGroups: string[];
    tags: Tags;
}
export interface ClassicElbInfo {
    name: string;
    securityGroups: string[];
    tags: Tags;
}
export interface TargetGroupInfo {
    arn: string;
    name: string;
    loadBalancerArns: string[];
    tags: Tags;
}
export interface RuleRef {
    groupId: string;
    direction: "ingress" | "egress";
    permission: EC2.IpPermission;
}
export interface SecurityGroupInfo {
    id: string;
    name: string;
    tags: Tags;
    permissions: RuleRef[];
}
export interface VolumeInfo {
    id: string;
    state: string;
    attachedTo: string[];
    tags: Tags;
}
export interface SnapshotInfo {
    id: string;
    state: string;
    volumeId?: string;
    tags: Tags;
}
export interface NetworkInterfaceInfo {
    id: string;
    status: string;
    description: string;
    groups: string[];
}

/** An error of the cloud API reduced to what the retry logic needs. */
export class CloudCallError extends Error {
    constructor(
        readonly operation: string,
        readonly code: string,
        message: string,
        readonly status?: number,
    ) {
        super(`${operation}: ${code}: ${message}`);
    }
}

export function toCloudError(operation: string, error: unknown): CloudCallError {
    const e = error as { name?: string; Code?: string; code?: unknown; message?: string; $metadata?: { httpStatusCode?: number } };
    // A failure below HTTP (DNS, TLS, refused connection) has no API code; Node's own code says what happened.
    const systemCode = typeof e.code === "string" ? e.code : undefined;
    const code = e.Code ?? systemCode ?? e.name ?? "Error";
    return new CloudCallError(operation, code, e.message ?? String(error), e.$metadata?.httpStatusCode);
}

function chunks<T>(items: T[], size: number): T[][] {
    const out: T[][] = [];
    for (let i = 0; i < items.length; i += size) {
        out.push(items.slice(i, i + size));
    }
    return out;
}

/**
 * An id or name the API always returns, which the SDK types leave optional. A missing one is
 * reported, not passed on as `undefined` to the matching and delete calls.
 */
function required<T>(value: T | undefined, operation: string, field: string): T {
    if (value === undefined) {
        throw new Error(`${operation}: the answer has an entry without ${field}`);
    }
    return value;
}

interface Sendable<Out> {
    send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<Out>;
}

export class CloudApi {
    /** API calls made, by operation name. */
    readonly calls = new Map<string, number>();
    private readonly ec2: EC2.EC2Client;
    private readonly elb: ELB.ElasticLoadBalancingClient;
    private readonly elbv2: ELBv2.ElasticLoadBalancingV2Client;

    /** `callTimeoutMs()` is asked before each call: the caller bounds it by its deadline (at least 10 s, so the last look at the deadline still gets an answer). */
    constructor(
        readonly connection: CloudConnection,
        private readonly callTimeoutMs: () => number = () => 30_000,
    ) {
        const common = sdkClientConfig(connection);
        this.ec2 = new EC2.EC2Client({ ...common, endpoint: zcomputeServiceUrl(connection.baseUrl, "ec2") });
        this.elb = new ELB.ElasticLoadBalancingClient({ ...common, endpoint: zcomputeServiceUrl(connection.baseUrl, "elbv2") });
        this.elbv2 = new ELBv2.ElasticLoadBalancingV2Client({ ...common, endpoint: zcomputeServiceUrl(connection.baseUrl, "elbv2") });
    }

    get totalCalls(): number {
        return [...this.calls.values()].reduce((a, b) => a + b, 0);
    }

    destroy(): void {
        this.ec2.destroy();
        this.elb.destroy();
        this.elbv2.destroy();
    }

    private async send<Out>(client: Sendable<Out>, command: { constructor: { name: string } }): Promise<Out> {
        const service = client === (this.ec2 as unknown) ? "ec2" : client === (this.elb as unknown) ? "elb" : "elbv2";
        const operation = `${service}:${command.constructor.name.replace(/Command$/, "")}`;
        this.calls.set(operation, (this.calls.get(operation) ?? 0) + 1);
        try {
            return await client.send(command, { abortSignal: AbortSignal.timeout(Math.max(10_000, this.callTimeoutMs())) });
        } catch (error) {
            throw toCloudError(operation, error);
        }
    }

    // ---- listing ------------------------------------------------------------------------

    async loadBalancers(): Promise<LoadBalancerInfo[]> {
        const found: ELBv2.LoadBalancer[] = [];
        let marker: string | undefined;
        do {
            const page = await this.send<ELBv2.DescribeLoadBalancersCommandOutput>(this.elbv2, new ELBv2.DescribeLoadBalancersCommand({ Marker: marker }));
            found.push(...(page.LoadBalancers ?? []));
            marker = page.NextMarker;
        } while (marker);
        const withArns = found.map((lb) => ({ lb, arn: required(lb.LoadBalancerArn, "elbv2:DescribeLoadBalancers", "LoadBalancerArn") }));
        const tags = await this.v2Tags(withArns.map(({ arn }) => arn));
        return withArns.map(({ lb, arn }) => ({
            arn,
            name: lb.LoadBalancerName ?? "",
            type: lb.Type ?? "",
            state: lb.State?.Code,
            securityGroups: lb.SecurityGroups ?? [],
            tags: tags.get(arn) ?? {},
        }));
    }

    async targetGroups(): Promise<TargetGroupInfo[]> {
        const found: ELBv2.TargetGroup[] = [];
        let marker: string | undefined;
        do {
            const page = await this.send<ELBv2.DescribeTargetGroupsCommandOutput>(this.elbv2, new ELBv2.DescribeTargetGroupsCommand({ Marker: marker }));
            found.push(...(page.TargetGroups ?? []));
            marker = page.NextMarker;
        } while (marker);
        const withArns = found.map((tg) => ({ tg, arn: required(tg.TargetGroupArn, "elbv2:DescribeTargetGroups", "TargetGroupArn") }));
        const tags = await this.v2Tags(withArns.map(({ arn }) => arn));
        return withArns.map(({ tg, arn }) => ({
            arn,
            name: tg.TargetGroupName ?? "",
            loadBalancerArns: tg.LoadBalancerArns ?? [],
            tags: tags.get(arn) ?? {},
        }));
    }

    /** DescribeTags takes at most 20 ARNs. */
    private async v2Tags(arns: string[]): Promise<Map<string, Tags>> {
        const result = new Map<string, Tags>();
        for (const batch of chunks(arns, 20)) {
            const page = await this.send<ELBv2.DescribeTagsCommandOutput>(this.elbv2, new ELBv2.DescribeTagsCommand({ ResourceArns: batch }));
            for (const d of page.TagDescriptions ?? []) {
                result.set(required(d.ResourceArn, "elbv2:DescribeTags", "ResourceArn"), tagMap(d.Tags));
            }
        }
        return result;
    }

    async listenerArns(loadBalancerArn: string): Promise<string[]> {
        const page = await this.send<ELBv2.DescribeListenersCommandOutput>(
            this.elbv2,
            new ELBv2.DescribeListenersCommand({ LoadBalancerArn: loadBalancerArn }),
        );
        return (page.Listeners ?? []).map((l) => required(l.ListenerArn, "elbv2:DescribeListeners", "ListenerArn"));
    }

    async classicElbs(): Promise<ClassicElbInfo[]> {
        const found: ELB.LoadBalancerDescription[] = [];
        let marker: string | undefined;
        do {
            const page = await this.send<ELB.DescribeLoadBalancersCommandOutput>(this.elb, new ELB.DescribeLoadBalancersCommand({ Marker: marker }));
            found.push(...(page.LoadBalancerDescriptions ?? []));
            marker = page.NextMarker;
        } while (marker);
        const withNames = found.map((lb) => ({ lb, name: required(lb.LoadBalancerName, "elb:DescribeLoadBalancers", "LoadBalancerName") }));
        const tags = new Map<string, Tags>();
        // The classic DescribeTags takes at most 20 names.
        for (const batch of chunks(
            withNames.map(({ name }) => name),
            20,
        )) {
            const page = await this.send<ELB.DescribeTagsCommandOutput>(this.elb, new ELB.DescribeTagsCommand({ LoadBalancerNames: batch }));
            for (const d of page.TagDescriptions ?? []) {
                tags.set(required(d.LoadBalancerName, "elb:DescribeTags", "LoadBalancerName"), tagMap(d.Tags));
            }
        }
        return withNames.map(({ lb, name }) => ({ name, securityGroups: lb.SecurityGroups ?? [], tags: tags.get(name) ?? {} }));
    }

    async securityGroups(): Promise<SecurityGroupInfo[]> {
        const groups: EC2.SecurityGroup[] = [];
        let token: string | undefined;
        do {
            const page = await this.send<EC2.DescribeSecurityGroupsCommandOutput>(this.ec2, new EC2.DescribeSecurityGroupsCommand({ NextToken: token }));
            groups.push(...(page.SecurityGroups ?? []));
            token = page.NextToken;
        } while (token);
        return groups.map((g) => {
            const id = required(g.GroupId, "ec2:DescribeSecurityGroups", "GroupId");
            return {
                id,
                name: g.GroupName ?? "",
                tags: tagMap(g.Tags),
                permissions: [
                    ...(g.IpPermissions ?? []).map((permission) => ({ groupId: id, direction: "ingress" as const, permission })),
                    ...(g.IpPermissionsEgress ?? []).map((permission) => ({ groupId: id, direction: "egress" as const, permission })),
                ],
            };
        });
    }

    async volumes(): Promise<VolumeInfo[]> {
        const found: EC2.Volume[] = [];
        let token: string | undefined;
        do {
            const page = await this.send<EC2.DescribeVolumesCommandOutput>(this.ec2, new EC2.DescribeVolumesCommand({ NextToken: token }));
            found.push(...(page.Volumes ?? []));
            token = page.NextToken;
        } while (token);
        return found.map((v) => ({
            id: required(v.VolumeId, "ec2:DescribeVolumes", "VolumeId"),
            state: v.State ?? "",
            attachedTo: (v.Attachments ?? []).map((a) => a.InstanceId ?? "?"),
            tags: tagMap(v.Tags),
        }));
    }

    async snapshots(): Promise<SnapshotInfo[]> {
        const found: EC2.Snapshot[] = [];
        let token: string | undefined;
        do {
            const page = await this.send<EC2.DescribeSnapshotsCommandOutput>(
                this.ec2,
                new EC2.DescribeSnapshotsCommand({ OwnerIds: ["self"], NextToken: token }),
            );
            found.push(...(page.Snapshots ?? []));
            token = page.NextToken;
        } while (token);
        return found.map((s) => ({
            id: required(s.SnapshotId, "ec2:DescribeSnapshots", "SnapshotId"),
            state: s.State ?? "",
            volumeId: s.VolumeId,
            tags: tagMap(s.Tags),
        }));
    }

    async networkInterfaces(): Promise<NetworkInterfaceInfo[]> {
        const found: EC2.NetworkInterface[] = [];
        let token: string | undefined;
        do {
            const page = await this.send<EC2.DescribeNetworkInterfacesCommandOutput>(this.ec2, new EC2.DescribeNetworkInterfacesCommand({ NextToken: token }));
            found.push(...(page.NetworkInterfaces ?? []));
            token = page.NextToken;
        } while (token);
        return found.map((n) => ({
            id: required(n.NetworkInterfaceId, "ec2:DescribeNetworkInterfaces", "NetworkInterfaceId"),
            status: n.Status ?? "",
            description: n.Description ?? "",
            groups: (n.Groups ?? []).map((g) => required(g.GroupId, "ec2:DescribeNetworkInterfaces", "Groups[].GroupId")),
        }));
    }

    // ---- deleting -----------------------------------------------------------------------

    async deleteListener(arn: string): Promise<void> {
        await this.send(this.elbv2, new ELBv2.DeleteListenerCommand({ ListenerArn: arn }));
    }

    async deleteLoadBalancer(arn: string): Promise<void> {
        await this.send(this.elbv2, new ELBv2.DeleteLoadBalancerCommand({ LoadBalancerArn: arn }));
    }

    async deleteClassicElb(name: string): Promise<void> {
        await this.send(this.elb, new ELB.DeleteLoadBalancerCommand({ LoadBalancerName: name }));
    }

    async deleteTargetGroup(arn: string): Promise<void> {
        await this.send(this.elbv2, new ELBv2.DeleteTargetGroupCommand({ TargetGroupArn: arn }));
    }

    /**
     * Removes one rule of `rule.groupId` that references `target`. The rule is sent with only the
     * protocol, ports and the group pair: a description in it makes some APIs refuse the match.
     */
    async revokeReference(rule: RuleRef, target: string): Promise<void> {
        const p = rule.permission;
        const permission: EC2.IpPermission = {
            IpProtocol: p.IpProtocol,
            FromPort: p.FromPort,
            ToPort: p.ToPort,
            UserIdGroupPairs: [{ GroupId: target }],
        };
        const command =
            rule.direction === "ingress"
                ? new EC2.RevokeSecurityGroupIngressCommand({ GroupId: rule.groupId, IpPermissions: [permission] })
                : new EC2.RevokeSecurityGroupEgressCommand({ GroupId: rule.groupId, IpPermissions: [permission] });
        await this.send(this.ec2, command);
    }

    async deleteSecurityGroup(id: string): Promise<void> {
        await this.send(this.ec2, new EC2.DeleteSecurityGroupCommand({ GroupId: id }));
    }

    async deleteVolume(id: string): Promise<void> {
        await this.send(this.ec2, new EC2.DeleteVolumeCommand({ VolumeId: id }));
    }

    async deleteSnapshot(id: string): Promise<void> {
        await this.send(this.ec2, new EC2.DeleteSnapshotCommand({ SnapshotId: id }));
    }

    async deleteNetworkInterface(id: string): Promise<void> {
        await this.send(this.ec2, new EC2.DeleteNetworkInterfaceCommand({ NetworkInterfaceId: id }));
    }
}

// Seeds moto with what each controller leaves in the cloud, tagged as that controller's code
// tags it (see cleanup/tags.ts for the sources), plus another cluster's, untagged and the
// stack's own resources, and lists what exists afterwards.
import * as EC2 from "@aws-sdk/client-ec2";
import * as ELB from "@aws-sdk/client-elastic-load-balancing";
import * as ELBv2 from "@aws-sdk/client-elastic-load-balancing-v2";

export const CLUSTER = "dev";
export const CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" };

type TagList = Array<{ Key: string; Value: string }>;
const tags = (map: Record<string, string>): TagList => Object.entries(map).map(([Key, Value]) => ({ Key, Value }));

export interface Seed {
    /** Ids (ARN, name or id) the cleanup must remove. */
    ours: string[];
    /** Ids it must never touch. */
    collateral: string[];
    apiNlbArn: string;
    stackSecurityGroups: string[];
    /** CCM's SG whose rule sits in the stack's node SG. */
    ccmSecurityGroup: string;
    nodeSecurityGroup: string;
    instanceId?: string;
}

export function clients(endpoint: string) {
    const common = { region: "us-east-1", endpoint, credentials: CREDENTIALS };
    return { ec2: new EC2.EC2Client(common), elb: new ELB.ElasticLoadBalancingClient(common), elbv2: new ELBv2.ElasticLoadBalancingV2Client(common) };
}

export async function seed(motoUrl: string, options: { attachedVolume?: boolean } = {}): Promise<Seed> {
    const { ec2, elb, elbv2 } = clients(motoUrl);
    const vpc = (await ec2.send(new EC2.CreateVpcCommand({ CidrBlock: "192.168.0.0/16" }))).Vpc!.VpcId!;
    const subnet = (await ec2.send(new EC2.CreateSubnetCommand({ VpcId: vpc, CidrBlock: "192.168.2.0/23", AvailabilityZone: "us-east-1a" }))).Subnet!.SubnetId!;
    const ours: string[] = [];
    const collateral: string[] = [];

    const sg = async (name: string, t: Record<string, string>) =>
        (
            await ec2.send(
                new EC2.CreateSecurityGroupCommand({
                    GroupName: name,
                    Description: name,
                    VpcId: vpc,
                    TagSpecifications: Object.keys(t).length ? [{ ResourceType: "security-group", Tags: tags(t) }] : undefined,
                }),
            )
        ).GroupId!;
    const lbv2 = async (name: string, type: "network" | "application", t: Record<string, string>, groups?: string[]) =>
        (
            await elbv2.send(
                new ELBv2.CreateLoadBalancerCommand({
                    Name: name,
                    Type: type,
                    Subnets: [subnet],
                    SecurityGroups: groups,
                    Tags: Object.keys(t).length ? tags(t) : undefined,
                }),
            )
        ).LoadBalancers![0].LoadBalancerArn!;
    const tg = async (name: string, t: Record<string, string>) =>
        (
            await elbv2.send(
                new ELBv2.CreateTargetGroupCommand({
                    Name: name,
                    Protocol: "TCP",
                    Port: 30080,
                    VpcId: vpc,
                    TargetType: "instance",
                    Tags: Object.keys(t).length ? tags(t) : undefined,
                }),
            )
        ).TargetGroups![0].TargetGroupArn!;
    const listener = async (lb: string, target: string, port: number) =>
        (
            await elbv2.send(
                new ELBv2.CreateListenerCommand({
                    LoadBalancerArn: lb,
                    Protocol: "TCP",
                    Port: port,
                    DefaultActions: [{ Type: "forward", TargetGroupArn: target }],
                }),
            )
        ).Listeners![0].ListenerArn!;
    const volume = async (t: Record<string, string>) =>
        (
            await ec2.send(
                new EC2.CreateVolumeCommand({
                    AvailabilityZone: "us-east-1a",
                    Size: 1,
                    TagSpecifications: Object.keys(t).length ? [{ ResourceType: "volume", Tags: tags(t) }] : undefined,
                }),
            )
        ).VolumeId!;
    const eni = async (description: string, groups: string[]) =>
        (
            await ec2.send(
                new EC2.CreateNetworkInterfaceCommand({
                    SubnetId: subnet,
                    Description: description,
                    Groups: groups,
                }),
            )
        ).NetworkInterface!.NetworkInterfaceId!;

    const owned = { [`kubernetes.io/cluster/${CLUSTER}`]: "owned" };
    const lbc = { "elbv2.k8s.aws/cluster": CLUSTER };

    // ---- the stack's own: API NLB, its target group, the cluster and bastion SGs ----
    const nodeSg = await sg(`${CLUSTER}-k8s`, { [`kubernetes.io/cluster/${CLUSTER}`]: "shared" });
    const bastionSg = await sg(`${CLUSTER}-bastion`, {});
    const apiNlb = await lbv2(`${CLUSTER}-eksd-masters-3f2a`, "network", { Name: `${CLUSTER}-eksd-masters`, Environment: CLUSTER });
    const apiTg = await tg(`${CLUSTER}-api-3f2a11`, { Name: `${CLUSTER}-api`, Environment: CLUSTER });
    await listener(apiNlb, apiTg, 6443);
    const apiEni = await eni(`ELB net/${CLUSTER}-eksd-masters-3f2a/0123456789abcdef`, [nodeSg]);
    // A stack volume that also carries the cluster tag: the stack's ownership tag wins.
    const stackVolume = await volume({ ...owned, Environment: CLUSTER, Name: `${CLUSTER}-etcd-data` });
    collateral.push(nodeSg, bastionSg, apiNlb, apiTg, apiEni, stackVolume);

    // ---- AWS Load Balancer Controller: NLB for Service shop/web, ALB for Ingress shop/ingress ----
    const lbcBackendSg = await sg("k8s-traffic-dev-5d0d0c1a2b", { ...lbc, "elbv2.k8s.aws/resource": "backend-sg" });
    const svcNlb = await lbv2("k8s-shop-web-aa11bb22cc", "network", {
        ...lbc,
        "service.k8s.aws/stack": "shop/web",
        "service.k8s.aws/resource": "LoadBalancer",
    });
    const svcTg = await tg("k8s-shop-web-0a1b2c3d4e", { ...lbc, "service.k8s.aws/stack": "shop/web", "service.k8s.aws/resource": "80" });
    const svcListener = await listener(svcNlb, svcTg, 80);
    const albSg = await sg("k8s-shop-ingress-9f8e7d6c5b", {
        ...lbc,
        "ingress.k8s.aws/stack": "shop/ingress",
        "ingress.k8s.aws/resource": "ManagedLBSecurityGroup",
    });
    const alb = await lbv2(
        "k8s-shop-ingress-bb22cc33dd",
        "application",
        { ...lbc, "ingress.k8s.aws/stack": "shop/ingress", "ingress.k8s.aws/resource": "LoadBalancer" },
        [albSg, lbcBackendSg],
    );
    const albTg = await tg("k8s-shop-ingress-1a2b3c4d5e", { ...lbc, "ingress.k8s.aws/stack": "shop/ingress", "ingress.k8s.aws/resource": "shop/web-svc:80" });
    const albEni = await eni("ELB app/k8s-shop-ingress-bb22cc33dd/50dc6c495c0c9188", [albSg]);
    ours.push(lbcBackendSg, svcNlb, svcTg, svcListener, albSg, alb, albTg, albEni);

    // ---- cloud-provider-aws: classic ELB + k8s-elb SG (rule in the node SG), NLB + target group ----
    const ccmElbName = "a0f1e2d3c4b5a69788796a5b4c3d2e1f";
    const ccmSg = await sg(`k8s-elb-${ccmElbName}`, owned);
    await ec2.send(
        new EC2.AuthorizeSecurityGroupIngressCommand({
            GroupId: nodeSg,
            IpPermissions: [{ IpProtocol: "tcp", FromPort: 30000, ToPort: 32767, UserIdGroupPairs: [{ GroupId: ccmSg }] }],
        }),
    );
    await elb.send(
        new ELB.CreateLoadBalancerCommand({
            LoadBalancerName: ccmElbName,
            Subnets: [subnet],
            SecurityGroups: [ccmSg],
            Listeners: [{ Protocol: "TCP", LoadBalancerPort: 80, InstanceProtocol: "TCP", InstancePort: 31080 }],
            Tags: tags({ ...owned, "kubernetes.io/service-name": "shop/legacy" }),
        }),
    );
    const ccmNlb = await lbv2("a1b2c3d4e5f60718293a4b5c6d7e8f90", "network", { ...owned, "kubernetes.io/service-name": "shop/api" });
    const ccmTg = await tg("k8s-shop-api-7d6c5b4a3f", { ...owned, "kubernetes.io/service-name": "shop/api" });
    await listener(ccmNlb, ccmTg, 443);
    // An interface an ELB of this cluster left behind, still in the ELB's group.
    const strayEni = await eni(`ELB ${ccmElbName}`, [ccmSg]);
    ours.push(ccmSg, ccmElbName, ccmNlb, ccmTg, strayEni);

    // ---- aws-ebs-csi-driver: a volume and a snapshot (k8sTagClusterId set) ----
    const csiTags = { CSIVolumeName: "pvc-0001", "ebs.csi.aws.com/cluster": "true", ...owned, KubernetesCluster: CLUSTER, Name: `${CLUSTER}-dynamic-pvc-0001` };
    const csiVolume = await volume(csiTags);
    const snapshot = (
        await ec2.send(
            new EC2.CreateSnapshotCommand({
                VolumeId: csiVolume,
                TagSpecifications: [
                    { ResourceType: "snapshot", Tags: tags({ CSIVolumeSnapshotName: "snapcontent-0001", "ebs.csi.aws.com/cluster": "true", ...owned }) },
                ],
            }),
        )
    ).SnapshotId!;
    ours.push(csiVolume, snapshot);

    // ---- another cluster's and untagged resources ----
    collateral.push(
        await lbv2("k8s-prod-web-ff00ee11dd", "network", { "elbv2.k8s.aws/cluster": "prod" }),
        await lbv2("someone-elses-nlb", "network", {}),
        await sg("k8s-elb-prodprodprodprod", { "kubernetes.io/cluster/prod": "owned" }),
        await sg("k8s-elb-untagged00000000", {}),
        await volume({ "kubernetes.io/cluster/prod": "owned", KubernetesCluster: "prod" }),
        await volume({}),
        // The CSI driver's tag alone names no cluster.
        await volume({ CSIVolumeName: "pvc-unknown", "ebs.csi.aws.com/cluster": "true" }),
        await eni("ELB net/someone-elses-nlb/0000000000000000", []),
    );
    collateral.push(
        (
            await ec2.send(
                new EC2.CreateSnapshotCommand({
                    VolumeId: collateral[collateral.length - 4],
                    TagSpecifications: [{ ResourceType: "snapshot", Tags: tags({ "ebs.csi.aws.com/cluster": "true", "kubernetes.io/cluster/prod": "owned" }) }],
                }),
            )
        ).SnapshotId!,
    );

    let instanceId: string | undefined;
    if (options.attachedVolume) {
        const image = (await ec2.send(new EC2.DescribeImagesCommand({}))).Images![0].ImageId!;
        instanceId = (await ec2.send(new EC2.RunInstancesCommand({ ImageId: image, MinCount: 1, MaxCount: 1, SubnetId: subnet }))).Instances![0].InstanceId!;
        const attached = await volume({ CSIVolumeName: "pvc-0002", "ebs.csi.aws.com/cluster": "true", ...owned });
        await ec2.send(new EC2.AttachVolumeCommand({ VolumeId: attached, InstanceId: instanceId, Device: "/dev/sdf" }));
        ours.push(attached);
    }
    for (const c of [ec2, elb, elbv2]) {
        c.destroy();
    }
    return { ours, collateral, apiNlbArn: apiNlb, stackSecurityGroups: [nodeSg, bastionSg], ccmSecurityGroup: ccmSg, nodeSecurityGroup: nodeSg, instanceId };
}

/** Every id that exists now (LB ARNs and names, TG/listener ARNs, SG/volume/snapshot/ENI ids). */
export async function existingIds(motoUrl: string): Promise<Set<string>> {
    const { ec2, elb, elbv2 } = clients(motoUrl);
    const ids = new Set<string>();
    const lbs = (await elbv2.send(new ELBv2.DescribeLoadBalancersCommand({}))).LoadBalancers ?? [];
    for (const lb of lbs) {
        ids.add(lb.LoadBalancerArn!);
        for (const l of (await elbv2.send(new ELBv2.DescribeListenersCommand({ LoadBalancerArn: lb.LoadBalancerArn }))).Listeners ?? []) {
            ids.add(l.ListenerArn!);
        }
    }
    for (const d of (await elb.send(new ELB.DescribeLoadBalancersCommand({}))).LoadBalancerDescriptions ?? []) ids.add(d.LoadBalancerName!);
    for (const t of (await elbv2.send(new ELBv2.DescribeTargetGroupsCommand({}))).TargetGroups ?? []) ids.add(t.TargetGroupArn!);
    for (const g of (await ec2.send(new EC2.DescribeSecurityGroupsCommand({}))).SecurityGroups ?? []) ids.add(g.GroupId!);
    for (const v of (await ec2.send(new EC2.DescribeVolumesCommand({}))).Volumes ?? []) ids.add(v.VolumeId!);
    for (const s of (await ec2.send(new EC2.DescribeSnapshotsCommand({ OwnerIds: ["self"] }))).Snapshots ?? []) ids.add(s.SnapshotId!);
    for (const n of (await ec2.send(new EC2.DescribeNetworkInterfacesCommand({}))).NetworkInterfaces ?? []) ids.add(n.NetworkInterfaceId!);
    for (const c of [ec2, elb, elbv2]) {
        c.destroy();
    }
    return ids;
}

// Seeds moto so that it looks like a zCompute the dev stack can use: a VPC and subnets, key
// pairs, an EKS-D image tagged with its version, a volume of the storage class's type, the API
// NLB with the interface zCompute describes as `ELB net/<name>/<id>`, and a node group's ASG
// (launch configuration + one instance). Returns the config overrides that point the dev stack
// at these resources.
import * as ASG from "@aws-sdk/client-auto-scaling";
import * as EC2 from "@aws-sdk/client-ec2";
import * as ELBv2 from "@aws-sdk/client-elastic-load-balancing-v2";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { CREDENTIALS } from "./moto-seed";

/** The dev stack's EKS-D minor: the seeded EKS-D image is tagged with it, so "images" holds. */
export const DEV_EKSD_MINOR = String(
    (parseYaml(fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> }).config[
        "zadara-eksd:eksdVersion"
    ],
);

export interface DoctorSeed {
    vpcId: string;
    publicSubnetId: string;
    privateSubnetId: string;
    bastionImage: string;
    eksdImage: string;
    /** `--config key=value` arguments for the dev stack. */
    config: string[];
}

/** Instance types moto knows (zCompute's z-types are not in its catalogue). */
export const TYPES = { bastion: "t3.micro", controlPlane: "t3.large", workers: "t3.large" };

export async function seedZCompute(motoUrl: string, options: { eksdTag?: string } = {}): Promise<DoctorSeed> {
    const common = { region: "us-east-1", endpoint: motoUrl, credentials: CREDENTIALS };
    const ec2 = new EC2.EC2Client(common);
    const elbv2 = new ELBv2.ElasticLoadBalancingV2Client(common);
    const asg = new ASG.AutoScalingClient(common);
    try {
        const vpcId = (await ec2.send(new EC2.CreateVpcCommand({ CidrBlock: "192.168.0.0/16" }))).Vpc?.VpcId ?? "";
        const subnet = async (cidr: string) =>
            (await ec2.send(new EC2.CreateSubnetCommand({ VpcId: vpcId, CidrBlock: cidr, AvailabilityZone: "us-east-1a" }))).Subnet?.SubnetId ?? "";
        const publicSubnetId = await subnet("192.168.0.0/24");
        const privateSubnetId = await subnet("192.168.2.0/23");
        for (const name of ["dev-bastion", "dev-nodes"]) {
            await ec2.send(new EC2.CreateKeyPairCommand({ KeyName: name }));
        }
        const images = (await ec2.send(new EC2.DescribeImagesCommand({}))).Images ?? [];
        const [bastionImage, eksdImage] = images.map((i) => i.ImageId ?? "").filter((id) => /^ami-[0-9a-z]{8,17}$/.test(id));
        await ec2.send(new EC2.CreateTagsCommand({ Resources: [eksdImage], Tags: [{ Key: "eksd-version", Value: options.eksdTag ?? DEV_EKSD_MINOR }] }));
        await ec2.send(new EC2.CreateVolumeCommand({ AvailabilityZone: "us-east-1a", Size: 1, VolumeType: "gp2" }));

        // The API NLB and its interface, described as zCompute (and AWS) describe NLB interfaces.
        const nlb = (await elbv2.send(new ELBv2.CreateLoadBalancerCommand({ Name: "dev-eksd-masters-3f2a", Type: "network", Subnets: [publicSubnetId] })))
            .LoadBalancers?.[0].LoadBalancerArn;
        const suffix = /loadbalancer\/((?:net|app)\/.+)$/.exec(nlb ?? "")?.[1] ?? "";
        await ec2.send(new EC2.CreateNetworkInterfaceCommand({ SubnetId: publicSubnetId, Description: `ELB ${suffix}` }));

        await asg.send(
            new ASG.CreateLaunchConfigurationCommand({ LaunchConfigurationName: "dev-workers-1a2b", ImageId: eksdImage, InstanceType: TYPES.workers }),
        );
        await asg.send(
            new ASG.CreateAutoScalingGroupCommand({
                AutoScalingGroupName: "dev-workers",
                LaunchConfigurationName: "dev-workers-1a2b",
                MinSize: 1,
                MaxSize: 2,
                DesiredCapacity: 1,
                VPCZoneIdentifier: privateSubnetId,
            }),
        );
        const config = [
            `bastionAmiId=${bastionImage}`,
            `controlPlaneAmiId=${eksdImage}`,
            `workerAmiId=${eksdImage}`,
            "bastionKeyName=dev-bastion",
            "nodeKeyName=dev-nodes",
            `bastionInstanceType=${TYPES.bastion}`,
            `controlPlaneInstanceType=${TYPES.controlPlane}`,
            `nodeGroups.workers.instanceType=${TYPES.workers}`,
            "volumeType=gp2",
        ];
        return { vpcId, publicSubnetId, privateSubnetId, bastionImage, eksdImage, config };
    } finally {
        ec2.destroy();
        elbv2.destroy();
        asg.destroy();
    }
}

// EKS-D releases per Kubernetes minor: the image tags kubeadm pulls from public.ecr.aws/eks-distro.
// The kubelet and kubeadm in the node AMIs must be of the same release; `kubernetesVersion`
// in config overrides the tag when an AMI was baked from another release.

export interface EksdRelease {
    minor: string;
    /** EKS-D release channel and number, e.g. 1-30 / 44. */
    release: string;
    kubernetesVersion: string;
    etcdImageTag: string;
    corednsImageTag: string;
}

export const EKSD_RELEASES: Record<string, EksdRelease> = {
    "1.28": { minor: "1.28", release: "1-28-eks-66", kubernetesVersion: "v1.28.15-eks-1-28-66", etcdImageTag: "v3.5.21-eks-1-28-66", corednsImageTag: "v1.11.4-eks-1-28-66" },
    "1.29": { minor: "1.29", release: "1-29-eks-60", kubernetesVersion: "v1.29.15-eks-1-29-60", etcdImageTag: "v3.5.21-eks-1-29-60", corednsImageTag: "v1.12.4-eks-1-29-60" },
    "1.30": { minor: "1.30", release: "1-30-eks-44", kubernetesVersion: "v1.30.14-eks-1-30-44", etcdImageTag: "v3.5.21-eks-1-30-44", corednsImageTag: "v1.12.2-eks-1-30-44" },
    // 1-31-eks-40: every image of the release carries the same Kubernetes patch (1-31-30 shipped kube-proxy v1.31.10 beside v1.31.12).
    "1.31": { minor: "1.31", release: "1-31-eks-40", kubernetesVersion: "v1.31.14-eks-1-31-40", etcdImageTag: "v3.5.21-eks-1-31-40", corednsImageTag: "v1.12.4-eks-1-31-40" },
};

export const SUPPORTED_EKSD_MINORS = Object.keys(EKSD_RELEASES);

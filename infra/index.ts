// The cloud-side building blocks: the zCompute AWS provider, tagging helpers and the network.
export * from "./provider";
export * from "./tags";
export * from "./network";

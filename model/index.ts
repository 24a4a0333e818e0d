// The stack model: the bottom layer of the program (types and constants only).
export * from "./constants";
export * from "./stack";
export * from "./cloud-facts";
